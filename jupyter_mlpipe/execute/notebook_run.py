"""One notebook's execution by the in-process engine: the cell loop, and its outputs as nbformat nodes.

papermill drives a notebook through an engine's callbacks (cell start, cell
exception, cell complete, autosave). `NotebookRun` is the engine's side of that
conversation for one notebook: it runs each code cell in the warm shell and,
as the `OutputSink` of the process while it runs, turns what the cell prints,
displays and raises into the outputs a Jupyter kernel would have produced.
Outputs may come from threads the user's code started, so they are guarded by
a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal, TextIO

from .outputs import StreamName, clean_metadata, clean_mimebundle, node, write_original
from .tracebacks import ErrorRecord, describe_error, is_clean_exit, safe_str

if TYPE_CHECKING:  # pragma: no cover
    from IPython.core.interactiveshell import InteractiveShell
    from nbformat import NotebookNode
    from papermill.engines import NotebookExecutionManager

__all__ = ["NotebookRun", "OutputCallback", "CellOutcome"]

#: ``on_output(cell_index, stream_name, text)``: called as a cell prints.
OutputCallback = Callable[[int, str, str], None]

CellOutcome = Literal["ok", "failed", "interrupted"]

logger = logging.getLogger(__name__)


class NotebookRun:
    """The state of one notebook's execution: where outputs go, which cell is running."""

    def __init__(
        self,
        nb_man: NotebookExecutionManager,
        shell: InteractiveShell,
        *,
        on_output: OutputCallback | None,
        log_output: bool,
        stdout_file: TextIO | None,
        stderr_file: TextIO | None,
    ) -> None:
        self.nb_man = nb_man
        self.nb = nb_man.nb
        self.shell = shell
        self.on_output = on_output
        self.log_output = log_output
        self.files = {"stdout": stdout_file, "stderr": stderr_file}
        self.thread = threading.get_ident()
        self.mutex = threading.RLock()  # outputs may come from other threads
        self.index: int | None = None
        self.cell: NotebookNode | None = None
        self.clear_pending = False
        self.display_ids: dict[str, list] = {}
        self.cell_of_count: dict[int, int] = {}
        self.interrupted = False  # a real SIGINT arrived during the current cell
        self.held: dict[str, tuple[int | None, str]] = {}  # on_output text waiting for a newline

    def mark_interrupted(self) -> None:
        """A real SIGINT arrived while the current cell runs: the step is being cancelled."""
        self.interrupted = True

    # -- the cell loop (papermill's NotebookExecutionManager callbacks) ----

    def execute_cells(self) -> None:
        nb, nb_man = self.nb, self.nb_man
        nb.metadata["language_info"] = _language_info()
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("mlpipe")
            if isinstance(meta, dict):
                meta.pop("error", None)
        for index, cell in enumerate(nb.cells):
            try:
                nb_man.cell_start(cell, index)
                if cell.get("cell_type") == "code" and cell.get("source", "").strip():
                    status = self.run_code_cell(index, cell)
                    if status != "ok":
                        nb_man.cell_exception(nb.cells[index], cell_index=index)
                        if status == "interrupted":
                            raise KeyboardInterrupt
                        break
            finally:
                nb_man.cell_complete(nb.cells[index], cell_index=index)
            if self.shell.exit_now:  # the user called exit(): stop, like a kernel that quit
                self.shell.exit_now = False
                break

    def run_code_cell(self, index: int, cell: NotebookNode) -> CellOutcome:
        shell = self.shell
        with self.mutex:
            self.index, self.cell = index, cell
            self.clear_pending = False
            cell.outputs = []
        cell.execution_count = shell.execution_count
        self.cell_of_count[shell.execution_count] = index
        self.interrupted = False
        try:
            result = shell.run_cell(cell.source, store_history=True, cell_id=cell.get("id"))
        finally:
            self.flush_output()
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            return "ok"
        if not any(o.get("output_type") == "error" for o in cell.outputs):
            # IPython printed it (a UsageError) instead of showing a traceback.
            name = type(error).__name__
            self.error(type(error), error, [f"{name}: {safe_str(error)}"])
        if not (isinstance(error, SystemExit) and is_clean_exit("SystemExit", safe_str(error))):
            cell.metadata.setdefault("mlpipe", {})
            if isinstance(cell.metadata["mlpipe"], dict):
                cell.metadata["mlpipe"]["error"] = self.describe_error(error)
        if isinstance(error, KeyboardInterrupt) and self.interrupted:
            return "interrupted"
        return "failed"

    # -- outputs (the OutputSink protocol) ----------------------------------

    def stream(self, name: StreamName, text: str) -> bool:
        """Append text to the current cell's stream output; False when no cell has run yet."""
        if not text:
            return True
        with self.mutex:
            cell = self.cell
            if cell is None:
                return False
            self._take_pending_clear()
            outputs = cell.outputs
            if outputs and outputs[-1].get("output_type") == "stream" and outputs[-1].get("name") == name:
                outputs[-1]["text"] += text
            else:
                outputs.append(node(output_type="stream", name=name, text=text))
            ready = self._hold(self.index, name, text) if self.on_output is not None else ()
        self._call_on_output(ready)
        file = self.files.get(name)
        if file is not None:
            file.write(text)
            file.flush()
        if self.log_output:
            from papermill.log import logger as papermill_logger

            (papermill_logger.info if name == "stdout" else papermill_logger.warning)(text)
        self._autosave()
        return True

    def flush_output(self) -> None:
        """Hand on_output the text held back waiting for a newline (at a cell's end, on flush())."""
        if self.on_output is None:
            return
        with self.mutex:
            ready = [chunk for name in list(self.held) for chunk in self._hold(None, name, "", final=True)]
        self._call_on_output(ready)

    def _hold(self, index: int | None, name: str, text: str, final: bool = False) -> list:
        """Line-buffer on_output: whole lines now, the rest at the next newline or flush."""
        held_index, held = self.held.get(name, (index, ""))
        ready = []
        if held and held_index != index and index is not None:
            ready.append((held_index, name, held))
            held = ""
        held += text
        cut = len(held) if final else held.rfind("\n") + 1
        if cut:
            ready.append((held_index if index is None else index, name, held[:cut]))
            held = held[cut:]
        self.held[name] = (held_index if index is None else index, held)
        return ready

    def _call_on_output(self, chunks: Iterable[tuple[int, str, str]]) -> None:
        for index, name, text in chunks:
            callback = self.on_output
            if callback is None:
                return
            try:
                callback(index, name, text)
            except Exception as exc:  # noqa: BLE001 - a broken log sink must not fail the user's cell
                self.on_output = None
                logger.debug("the on_output callback failed", exc_info=True)
                write_original(f"jupyter-mlpipe: the on_output callback failed and is now off: {exc!r}\n")

    def display(self, data: dict, metadata: dict, transient: dict, update: bool) -> None:
        display_id = transient.get("display_id")
        data, metadata = clean_mimebundle(data), clean_metadata(metadata)
        with self.mutex:
            if update:
                for output in self.display_ids.get(display_id, ()):
                    output["data"], output["metadata"] = node(**data), node(**metadata)
                return
            output = node(output_type="display_data", data=data, metadata=metadata)
            self._append(output)
            if display_id:
                self.display_ids.setdefault(display_id, []).append(output)
        self._autosave()

    def execute_result(self, data: dict, metadata: dict, count: int) -> None:
        output = node(
            output_type="execute_result",
            data=clean_mimebundle(data),
            metadata=clean_metadata(metadata),
            execution_count=count,
        )
        with self.mutex:
            self._append(output)

    def error(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        output = node(output_type="error", ename=etype.__name__, evalue=safe_str(evalue), traceback=list(stb))
        with self.mutex:
            self._append(output)

    def clear_output(self, wait: bool) -> None:
        with self.mutex:
            if wait:
                self.clear_pending = True
            elif self.cell is not None:
                self.clear_pending = False
                self._clear()

    def _append(self, output: NotebookNode) -> None:
        if self.cell is None:  # before the first code cell: nowhere to put it
            return
        self._take_pending_clear()
        self.cell.outputs.append(output)

    def _take_pending_clear(self) -> None:
        if self.clear_pending:
            self.clear_pending = False
            self._clear()

    def _clear(self) -> None:
        assert self.cell is not None
        removed = {id(o) for o in self.cell.outputs}
        self.cell.outputs[:] = []
        for outputs in self.display_ids.values():
            outputs[:] = [o for o in outputs if id(o) not in removed]

    def _autosave(self) -> None:
        if threading.get_ident() == self.thread:  # never serialise while another thread writes
            self.nb_man.autosave_cell()

    # -- errors for people ---------------------------------------------------

    def label(self, index: int) -> int:
        """The cell number people know: metadata mlpipe.cell, else the bundle index."""
        meta = self.nb.cells[index].get("metadata", {}).get("mlpipe")
        if isinstance(meta, dict) and isinstance(meta.get("cell"), int):
            return meta["cell"]
        return index

    def cell_label_of_file(self, filename: str | None) -> int | None:
        count = self.shell.compile.names.get(filename) if filename else None
        index = self.cell_of_count.get(count) if count is not None else None
        return None if index is None else self.label(index)

    def describe_error(self, error: BaseException) -> ErrorRecord:
        """The traceback as data, its frames in cells labelled with the user's cell numbers."""
        return describe_error(error, cell_of_file=self.cell_label_of_file, raw_line=self.shell.compile.raw_line)


def _language_info() -> dict:
    import platform

    return {
        "name": "python",
        "version": platform.python_version(),
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "pygments_lexer": "ipython3",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "nbconvert_exporter": "python",
    }
