"""The manual: docs/ builds as a site with no warning (broken links and anchors included), and
documents every warehouse column and every setting."""

import os
import re
import subprocess
import sys
from pathlib import Path

from f1_core import settings
from f1_core.warehouse import HISTORY_TABLES, TABLES

DOCS = settings.PROJECT_ROOT / "docs"


def test_the_warehouse_page_documents_every_column():
    page = (DOCS / "warehouse.md").read_text()
    for table, (_, columns) in (TABLES | HISTORY_TABLES).items():
        section = page.split(f"## `{table}`", 1)
        assert len(section) == 2, f"docs/warehouse.md has no section for table {table}"
        body = re.split(r"^#{1,2} ", section[1], maxsplit=1, flags=re.MULTILINE)[0]  # up to the next section
        documented = set(re.findall(r"^\| `(\w+)` \|", body, flags=re.MULTILINE))
        assert documented == {name for name, _, _ in columns}, table


def test_the_configuration_page_holds_the_settings_table():
    table = settings.__doc__[settings.__doc__.index("| variable") :].strip()
    assert table in (DOCS / "configuration.md").read_text()
    read = set(re.findall(r'environ\.get\("(\w+)"', Path(settings.__file__).read_text()))
    read.discard("F1_MLFLOW_TRACKING_URI")  # an old name, read only to refuse it
    listed = set(re.findall(r"^\| (\w+) ", table, flags=re.MULTILINE)) - {"variable"}
    assert read <= listed, f"settings read but not documented: {sorted(read - listed)}"


def test_the_site_builds_strictly(tmp_path):
    built = subprocess.run(
        [Path(sys.executable).with_name("mkdocs"), "build", "--strict", "-d", tmp_path / "site"],
        cwd=settings.PROJECT_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stdout + built.stderr
    assert (tmp_path / "site" / "warehouse" / "index.html").is_file()


def test_the_readme_links_only_to_pages_that_exist():
    readme = (settings.PROJECT_ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme)
    assert targets and all((settings.PROJECT_ROOT / target).is_file() for target in targets), targets
