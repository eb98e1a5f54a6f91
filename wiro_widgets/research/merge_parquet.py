"""Merging Parquet exports (`export` with ``format="parquet"``) into one file, a row group
at a time: columns one file lacks are empty (null) there, and each row is kept once (by
task id and output).

Example:
    >>> merge_parquet([Path("a/data.parquet"), Path("b/data.parquet")], Path("data.parquet"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["merge_parquet"]


def merge_parquet(files: list[Path], target: Path) -> tuple[int, int]:
    """Write the rows of ``files`` into ``target``; returns (rows written, duplicates).

    Raises:
        ImportError: pyarrow is not installed (the ``parquet`` extra).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError('merging Parquet files needs pyarrow: pip install '
                          '"wiro-widgets[parquet]"') from None
    schemas = [pq.read_schema(str(f)) for f in files]
    schema = pa.unify_schemas(schemas, promote_options="permissive").with_metadata(
        schemas[0].metadata)
    seen: set[tuple[Any, Any]] = set()
    rows = duplicates = 0
    with pq.ParquetWriter(str(target), schema) as writer:
        for path in files:
            reader = pq.ParquetFile(str(path))
            for group in range(reader.num_row_groups):
                kept = []
                for row in reader.read_row_group(group).to_pylist():
                    key = (row.get("task_id"), row.get("output_index"))
                    if row.get("task_id") and key in seen:
                        duplicates += 1
                        continue
                    seen.add(key)
                    kept.append(row)
                if kept:
                    writer.write_table(pa.Table.from_pylist(kept, schema=schema))
                    rows += len(kept)
    return rows, duplicates
