"""The store layer: values as content-addressed artifacts, and the run history (SQLite).

Nothing here knows about plans or Ray; the executor and every front end open a
notebook's store through `paths`.
"""
