"""The oracle: run a notebook's cells top to bottom in a fresh process, as a kernel would.

A long-lived server process imports the heavy libraries once and forks a child
per notebook, so each notebook starts from a clean interpreter state (random
generators, environment, working directory) at the cost of a fork. Protocol:
one JSON request per line on stdin, `{"cells": [...], "cwd": "...", "expr": "..."}`;
one JSON answer per line on stdout, `{"verdict": "..."}` or `{"error": "..."}`.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _run(request: dict) -> dict:
    os.chdir(request["cwd"])
    sys.path.insert(0, request["cwd"])
    ns: dict = {"__name__": "__main__"}
    try:
        for index, source in enumerate(request["cells"]):
            exec(compile(source, f"<cell {index}>", "exec"), ns)  # noqa: S102 - this is the notebook
        return {"verdict": ns["verdict"]}
    except BaseException:  # noqa: BLE001 - reported to the parent
        return {"error": traceback.format_exc(limit=4)}


def serve() -> None:
    import numpy  # noqa: F401 - preloaded once for every fork
    import pandas  # noqa: F401

    try:
        import sklearn.linear_model  # noqa: F401
    except ImportError:
        pass
    for line in sys.stdin:
        request = json.loads(line)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            answer = json.dumps(_run(request)).encode()
            with os.fdopen(write, "wb") as fh:
                fh.write(answer)
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as fh:
            data = fh.read()
        os.waitpid(pid, 0)
        sys.stdout.write((data.decode() or json.dumps({"error": "the oracle process died"})) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
