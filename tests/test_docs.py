import re

from f1_core import settings
from f1_core.warehouse import HISTORY_TABLES, TABLES


def test_readme_documents_every_warehouse_column():
    readme = (settings.PROJECT_ROOT / "README.md").read_text()
    for table, (_, columns) in (TABLES | HISTORY_TABLES).items():
        section = readme.split(f"### `{table}`", 1)
        assert len(section) == 2, f"README has no section for table {table}"
        body = re.split(r"^##", section[1], maxsplit=1, flags=re.MULTILINE)[0]  # up to the next heading
        documented = set(re.findall(r"^\| `(\w+)` \|", body, flags=re.MULTILINE))
        assert documented == {name for name, _, _ in columns}, table
