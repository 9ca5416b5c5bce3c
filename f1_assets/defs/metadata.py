"""Asset metadata shared by the domains: previews and schemas in the form the UI renders."""

import ast
import functools
import hashlib
from pathlib import Path

import dagster as dg
import polars as pl


def preview(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    head = frame.head(rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))


def table_schema(columns: list[tuple[str, str, str]]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, ddl.split()[0].lower(), description=description) for name, ddl, description in columns
        ]
    )


OWN_PACKAGES = ("f1_core", "f1_assets")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _module_file(name: str) -> Path | None:
    """The source file of a project module, found without importing it (None for a plain name,
    as in `from f1_core.features import FEATURES`)."""
    path = PROJECT_ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _tree(module: str) -> tuple[str, frozenset[str]]:
    """A module's syntax tree (comments and formatting left out) and the project modules it imports."""
    tree = ast.parse(_module_file(module).read_text())
    imported = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        imported.update(name for name in names if name.split(".")[0] in OWN_PACKAGES and _module_file(name))
    return ast.dump(tree), frozenset(imported)


def asset_code_version(module: str) -> str:
    """The code version of the assets a module defines: a hash of that module and of every project
    module it imports, directly or not (lazy imports included), so Dagster marks an asset stale
    when code it may run changed, and not for a comment or a reformat."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += sorted(_tree(name)[1])
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + _tree(name)[0].encode())
    return digest.hexdigest()[:12]
