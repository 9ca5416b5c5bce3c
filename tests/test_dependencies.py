"""Every declared dependency is used: imported by the project's code, tests, benchmarks or
notebooks, or named here with what uses it otherwise (a command, a plugin, a configuration)."""

import re
import tomllib

from f1_core import settings

ROOT = settings.PROJECT_ROOT
IMPORT_NAME = {"xgboost-cpu": "xgboost"}  # else the name with `_` for `-`
# used without an import statement of their own
USED_OTHERWISE = {
    "dagster-webserver": "the Dagster UI (make ui: dagster dev)",
    "dagster-postgres": "dagster_home/postgres/dagster.yaml names its storage",
    "duckdb-extension-ducklake": "loaded as a file by f1_core.lake.extension_file",
    "duckdb-extension-sqlite-scanner": "loaded as a file by f1_core.lake.extension_file",
    "duckdb-extension-postgres-scanner": "loaded as a file by f1_core.lake.extension_file",
    "mkdocs-material": "make docs",
    "pytest": "make test",
    "pytest-timeout": "pyproject's timeout setting",
    "pytest-xdist": "make test's -n 2",
    "ruff": "make lint",
    "schemathesis": "its command, in tests/test_serving.py",
    "ipykernel": "the notebooks' kernel",
    "ipywidgets": "progress widgets in the notebooks (tqdm warns without them)",
    "jupyterlab": "make notebooks",
}


def declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    specs = project["project"]["dependencies"] + [s for group in project["dependency-groups"].values() for s in group]
    return [re.match(r"[A-Za-z0-9_.-]+", spec)[0].lower() for spec in specs]


def test_every_declared_dependency_is_used():
    files = [*ROOT.glob("f1_*/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]
    files += ROOT.glob("notebooks/*.ipynb")
    text = "\n".join(path.read_text() for path in files if path.name != "test_dependencies.py")
    # at a line's start, after whitespace, or after a notebook's JSON quote or escaped newline
    imported = set(re.findall(r"""(?:^|\\n|\s|")(?:import|from) ([A-Za-z_][A-Za-z0-9_]*)""", text))
    names = declared()
    assert len(names) > 20  # the parse found the lists
    unused = [
        name
        for name in names
        if name not in USED_OTHERWISE and IMPORT_NAME.get(name, name.replace("-", "_")) not in imported
    ]
    assert not unused, f"declared in pyproject.toml, used nowhere: {unused}"
    assert not set(USED_OTHERWISE) - set(names), "USED_OTHERWISE names a dependency no longer declared"
