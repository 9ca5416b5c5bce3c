import dagster as dg
import polars as pl
from pydantic import Field

from f1_core import settings, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse analysts query (a DuckLake in `path`, see f1_core.lake)."""

    path: str = Field(default_factory=lambda: str(settings.warehouse_path()))

    def replace_session(self, session_key: str, tables: dict[str, pl.DataFrame]) -> None:
        warehouse.replace_session(self.path, session_key, tables)

    def replace_table(self, table: str, frame: pl.DataFrame, comment: str) -> None:
        warehouse.replace_table(self.path, table, frame, comment)

    def query(self, sql: str, params: list | None = None, wait_seconds: float = 120.0) -> pl.DataFrame:
        return warehouse.query(self.path, sql, params, wait_seconds)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": WarehouseResource()})
