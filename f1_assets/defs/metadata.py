"""Asset metadata shared by the domains: previews and schemas in the form the UI renders."""

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
