"""The Parquet side of `export`: one file, the images embedded, written in row groups.

The ``image`` column is a struct of ``bytes`` and ``path``, and the schema carries the
``huggingface`` features metadata, so ``datasets`` reads the column as an ``Image``
feature (decoded to PIL) and every other column with its type. Needs pyarrow (the
``parquet`` extra).

Example:
    >>> write_parquet(rows, Path("out/data.parquet"), {"seed": "int", "prompt": "str"})
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["write_parquet"]

#: Rows per row group: at most that many images are held in memory while writing.
ROW_GROUP = 32
_ARROW = {"int": "int64", "float": "float64", "bool": "bool_", "str": "string",
          "json": "string"}
_FEATURES = {"int": "int64", "float": "float64", "bool": "bool", "str": "string",
             "json": "string"}


def write_parquet(rows: Iterable[dict[str, Any]], path: Path,
                  kinds: Mapping[str, str]) -> Path:
    """Write ``rows`` (each with an ``image`` {bytes, path} and the ``kinds`` columns).

    Raises:
        ImportError: pyarrow is not installed (``pip install "wiro-widgets[parquet]"``).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError('format="parquet" needs pyarrow: pip install '
                          '"wiro-widgets[parquet]"') from None
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields = [pa.field("image", image)] + [
        pa.field(name, getattr(pa, _ARROW[kind])()) for name, kind in kinds.items()]
    features = {"image": {"_type": "Image"}, **{
        name: {"dtype": _FEATURES[kind], "_type": "Value"} for name, kind in kinds.items()}}
    schema = pa.schema(fields, metadata={
        "huggingface": json.dumps({"info": {"features": features}})})
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(str(path), schema) as writer:
        for row in rows:
            batch.append(row)
            if len(batch) >= ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return path
