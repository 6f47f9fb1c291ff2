"""A fan-out step's elements, one element's run, and the gathered values: shared by the kernel and the workers.

The kernel's loop (`kernel.foreach`) and the pipeline's element tasks
(`fanout_task`) go through these same functions, so that splitting, the
namespace an element starts from, what counts as its failure and how values
are gathered cannot differ between the notebook and the pipeline:

- `elements_of` splits ITERABLE (`--batch-size` rows of a DataFrame or array),
  `file_elements` lists a `--files` glob; both refuse what has no order;
- `ElementCode` runs the step's cell for one element in a fresh namespace: a
  shallow copy of the names the step starts with, plus the element. An element
  that draws from the process's global random generators fails: its draws would
  depend on which elements ran before it in the same process;
- `gather` makes the list (or the concatenation) of one name's values.
"""

from __future__ import annotations

import glob
import linecache
import os
import random
import sys
import traceback
from typing import Any

from ..errors import StepFailed
from ..vocab import ErrorInfo

__all__ = ["ElementCode", "ElementFailed", "element_error", "elements_of", "file_elements", "gather",
           "random_state"]

def _qualname(value: Any) -> str:
    tp = type(value)
    return f"{tp.__module__}.{tp.__qualname__}"


def _is_table(value: Any) -> bool:
    """A pandas DataFrame or Series, a polars DataFrame, a pyarrow Table or RecordBatch (whatever module
    path the installed version gives them)."""
    root = type(value).__module__.split(".")[0]
    name = type(value).__name__
    return (root == "pandas" and name in ("DataFrame", "Series")) or (root == "polars" and name == "DataFrame") \
        or (root == "pyarrow" and name in ("Table", "RecordBatch"))


def elements_of(value: Any, *, step: str, source: str, batch_size: int | None) -> list[Any]:
    """The elements of `value` (the variable `source`), in order; raise StepFailed naming the fix."""
    kind = type(value).__name__
    qual = _qualname(value)

    def refuse(why: str, hint: str) -> StepFailed:
        return StepFailed(f"Step {step!r}: --foreach {source}: {why}.", step=step, hint=hint)

    if _is_table(value) or kind == "ndarray":
        if batch_size is None:
            if kind == "ndarray" and getattr(value, "ndim", 0) >= 1:
                return list(value)  # its rows, as Python iterates it
            raise refuse(f"{source!r} is a {kind}, which is split into elements of --batch-size rows",
                         f"Add --batch-size N to the %%step line of {step!r}.")
        total = len(value) if not hasattr(value, "num_rows") else value.num_rows
        if qual.startswith("pandas"):
            return [value.iloc[i:i + batch_size] for i in range(0, total, batch_size)]
        if kind == "ndarray":
            return [value[i:i + batch_size] for i in range(0, total, batch_size)]
        return [value.slice(i, batch_size) for i in range(0, total, batch_size)]
    if batch_size is not None:
        raise refuse(f"--batch-size splits a DataFrame, Series or array, and {source!r} is a {kind}",
                     f"Drop --batch-size from the %%step line of {step!r}, or make {source!r} a DataFrame.")
    if isinstance(value, (set, frozenset)):
        raise refuse(f"{source!r} is a {kind}, which has no order (the gathered lists would not either)",
                     f"Iterate over sorted({source}) instead: assign it to a variable in an earlier step.")
    if isinstance(value, (str, bytes, bytearray)):
        raise refuse(f"{source!r} is a {kind}: its elements would be single characters",
                     f"Put the strings in a list: {source} = [...].")
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, (list, tuple, range)):
        return list(value)
    if not hasattr(value, "__iter__"):
        raise refuse(f"{source!r} is a {kind}, which cannot be iterated",
                     f"Give --foreach a list, tuple, dict, DataFrame or array (not a {kind}).")
    try:
        return list(value)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's iterator is the step's error
        raise refuse(f"iterating {source!r} ({kind}) raised {type(exc).__name__}: {exc}",
                     f"Make {source!r} a list in an earlier step.") from None


def file_elements(base: str, pattern: str, *, step: str) -> list[str]:
    """The files of a `--files` glob, relative to the notebook's folder `base`, sorted (the elements)."""
    found = sorted(os.path.relpath(p, base) for p in glob.glob(os.path.join(base, pattern), recursive=True)
                   if os.path.isfile(p))
    if not found and not glob.has_magic(pattern):
        raise StepFailed(f"Step {step!r}: --files {pattern}: no such file in {base}.", step=step,
                         hint="Give a glob relative to the notebook's folder, such as 'data/*.parquet'.")
    return found


def random_state() -> tuple[Any, ...]:
    """The process's global random generators (random, numpy, torch when loaded), to compare."""
    state: list[Any] = [random.getstate()]
    np = sys.modules.get("numpy")
    if np is not None:
        s = np.random.get_state()
        state.append((s[1].tobytes(), s[2], s[3], s[4]))
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_rng_state"):
        state.append(torch.get_rng_state().numpy().tobytes())
    return tuple(state)


class ElementFailed(Exception):
    """One element's run failed: `info` says how (the step goes on with the next element)."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.get("evalue"))
        self.info = info


class ElementCode:
    """The step's cell compiled once, run per element in a fresh namespace."""

    def __init__(self, step: str, line: str, body: str, *, cell: int | None) -> None:
        from ..plan.source import strip_control_lines, to_python

        self.step = step
        self.cell = cell
        text = f"# %%step {line}".rstrip() + "\n" + strip_control_lines(body)  # the notebook's line numbers
        self.filename = f"<mlpipe step {step}>"
        linecache.cache[self.filename] = (len(text), None, text.splitlines(True), self.filename)
        self.code = compile(to_python(text), self.filename, "exec")

    def run(self, base: dict[str, Any], as_name: str, element: Any, outputs: list[str]) -> dict[str, Any]:
        """The values of `outputs` after running the cell on `element`; raise ElementFailed."""
        ns = dict(base)
        ns[as_name] = element
        before = random_state()
        try:
            exec(self.code, ns)  # noqa: S102 - the step's own code, as the notebook runs it
        except Exception as exc:  # noqa: BLE001 - the element's failure, as data
            raise ElementFailed(element_error(exc, self.filename, self.cell)) from None
        if random_state() != before:
            raise ElementFailed({
                "ename": "GlobalRandomState", "cell": self.cell, "role": "step", "traceback": None,
                "evalue": (f"the element drew from the process's global random generator (random, numpy.random "
                           "or torch): elements run in parallel, so its draws would not be the notebook's. "
                           "Use a generator of its own, e.g. rng = np.random.default_rng(SEED) in the cell")})
        missing = [n for n in outputs if n not in ns]
        if missing:
            raise ElementFailed({
                "ename": "MissingOutput", "cell": self.cell, "role": "step", "traceback": None,
                "evalue": f"the element did not define {missing[0]!r} (was it assigned only on some branch?)"})
        return {n: ns[n] for n in outputs}


def element_error(exc: BaseException, filename: str, cell: int | None) -> ErrorInfo:
    """An element's exception as data, its traceback from the step's cell on."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    return {"ename": type(exc).__name__, "evalue": str(exc), "traceback": text, "cell": cell, "role": "step"}


def gather(step: str, name: str, values: list[Any], mode: str | None) -> Any:
    """One name's values from every element that succeeded: a list, or (concat) their concatenation."""
    if mode != "concat" or not values:
        return list(values)
    kinds = {_qualname(v) for v in values}
    first = values[0]
    qual = _qualname(first)

    def refuse(why: str) -> StepFailed:
        return StepFailed(f"Step {step!r}: --gather concat: {why}.", step=step,
                          hint="Use --gather list (the default), or make each element define a DataFrame, "
                               "Series, array or list.")

    if len(kinds) > 1:
        raise refuse(f"the elements' {name!r} are of different types ({', '.join(sorted(kinds))})")
    if qual.startswith("pandas"):
        import pandas as pd

        return pd.concat(values)
    if type(first).__name__ == "ndarray":
        import numpy as np

        return np.concatenate(values)
    if qual.startswith("polars"):
        import polars as pl

        return pl.concat(values)
    if qual.startswith("pyarrow"):
        import pyarrow as pa

        return pa.concat_tables(values) if qual.endswith("Table") else pa.Table.from_batches(values)
    if isinstance(first, (list, tuple)):
        return [item for value in values for item in value]
    raise refuse(f"each element's {name!r} is a {type(first).__name__}, which cannot be concatenated")

