"""The store layer: values as content-addressed artifacts, and the run history (SQLite).

Nothing here knows about plans or Ray; the executor and every front end open a
notebook's store through `paths`.

- `paths`: where a notebook's runs live; `open_history`, the one way to open them.
- `artifacts`: the content-addressed store (`ArtifactStore.put/get/verify`, atomic writes).
- `codec`: a value to bytes and back (Arrow IPC or cloudpickle); unstorable values.
- `digests`: content digests, BLAKE3 for new artifacts, sha256 of older versions still read.
- `arrow_values`: which pandas/numpy/polars/pyarrow values go as Arrow, and back exactly.
- `history`: `History`, the SQLite file (connection, transactions) and recording runs.
- `history_reader`: reading runs, steps, metrics and cache entries back.
- `gc_queries`: the history's queries for the garbage collector; `gc`: `mlpipe gc`.
- `records`: the shapes (TypedDicts) of what the history returns.
- `schema`: the tables, migrations and JSON columns; `sql`: the transaction interface.
- `ids`: run ids and driver processes, checked without a database.
"""
