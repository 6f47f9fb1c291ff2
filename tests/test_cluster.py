"""A real multi-node Ray cluster on this machine, made with `ray start` as a user would.

A head node (1 CPU) and a worker node (2 CPUs, one declared GPU, a custom
`bignode` resource), with Ray's default token authentication. `mlpipe run`
connects by address from a shell that never heard of tokens; steps land where
their requests fit; independent steps spread over both nodes; a worker node lost
mid-step is survived with --retries.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_notebook

MLPIPE = str(Path(sys.executable).parent / "mlpipe")
RAY = [sys.executable, "-m", "ray.scripts.scripts"]
NODE_ID = "import ray\nnode = ray.get_runtime_context().get_node_id()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """`ray start --block` processes, each in a process group of its own, so stopping one node never
    touches the suite's own Ray (`ray stop` would stop every Ray on the machine)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: dict[str, subprocess.Popen] = {}
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("MLPIPE_RAY_ADDRESS", "RAY_ADDRESS", "RAY_AUTH_MODE")}
        self.env["RAY_USAGE_STATS_ENABLED"] = "0"

    def start(self, name: str, *args: str, head: bool = False, hide: Path | None = None) -> None:
        """Start a node; `hide`: a folder this node cannot see (an empty tmpfs over it, in a mount namespace
        of the node's own), as a machine without the driver's file system would."""
        log = open(self.root / f"{name}.log", "w")
        where = ["--head", "--port", str(self.port), "--include-dashboard", "false",
                 "--temp-dir", str(self.root / "t")] if head else ["--address", self.address]
        env = self.env if head else {**self.env, "RAY_AUTH_MODE": "token"}
        command = [*RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--disable-usage-stats", *where, *args]
        if hide is not None:
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f'mount -t tmpfs none "{hide}" && exec "$@"', "sh", *command]
        self.nodes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, process_group=0)
        deadline = time.time() + 120
        while "Ray runtime started" not in (self.root / f"{name}.log").read_text():
            assert self.nodes[name].poll() is None and time.time() < deadline, \
                (self.root / f"{name}.log").read_text()[-3000:]
            time.sleep(0.2)

    def wait_for_nodes(self, count: int) -> None:
        code = (f"import ray, time\nray.init(address={self.address!r}, log_to_driver=False)\n"
                f"while sum(n['Alive'] for n in ray.nodes()) < {count}: time.sleep(0.2)\n")
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                       env={**self.env, "RAY_AUTH_MODE": "token"}, capture_output=True)

    def kill(self, name: str) -> None:
        proc = self.nodes.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop(self) -> None:
        for name in reversed(list(self.nodes)):
            proc = self.nodes.pop(name)
            os.killpg(proc.pid, signal.SIGTERM)
            try:  # Ray drains for up to 30 s: nothing here needs it
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def run(self, path: Path, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([MLPIPE, "run", str(path), "--json", *args], capture_output=True, text=True,
                              timeout=timeout, env={**self.env, "MLPIPE_RAY_ADDRESS": self.address, **(env or {})})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    made = Cluster(tmp_path_factory.mktemp("c"))
    try:
        made.start("head", "--num-cpus", "1", head=True)
        made.start("big", "--num-cpus", "2", "--num-gpus", "1", "--resources", '{"bignode": 1, "spot": 1}')
        made.wait_for_nodes(2)
        yield made
    finally:
        made.stop()


def _values(result: subprocess.CompletedProcess, path: Path, names: list[str]) -> dict:
    """Values of the run `mlpipe run --json` printed, read back from the store."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import jupyter_mlpipe

    run = jupyter_mlpipe.load_run(json.loads(result.stdout)["id"], path)
    return {name: run[name] for name in names}


def test_steps_land_where_their_requests_fit_and_independent_steps_spread(cluster, tmp_path):
    (tmp_path / "mlpipe.toml").write_text('[compute.big]\nresources = {bignode = 1}\n')
    path = write_notebook(tmp_path / "placed.ipynb", [
        f"%%step gpu --compute gpu\n{NODE_ID}\ngpu_node = node",
        f"%%step big --compute big\n{NODE_ID}\nbig_node = node",
        *[f"%%step free{i}\nimport time\ntime.sleep(3)\n{NODE_ID}\nfree{i}_node = node" for i in range(3)],
        "%%step nodes\nimport ray\nwith_gpu = [n['NodeID'] for n in ray.nodes() if n['Alive'] and "
        "n['Resources'].get('GPU')]",
    ])
    # the shell knows nothing of tokens: Ray's token file is found and used
    values = _values(cluster.run(path), path, ["with_gpu", "gpu_node", "big_node", "free0_node", "free1_node",
                                               "free2_node"])
    [gpu_node] = values["with_gpu"]
    assert values["gpu_node"] == gpu_node and values["big_node"] == gpu_node
    spread = {values[f"free{i}_node"] for i in range(3)}
    assert len(spread) == 2, spread  # three 1-CPU steps at once: the 1-CPU head could not hold them all


def test_without_the_token_the_error_says_so(cluster, tmp_path):
    path = write_notebook(tmp_path / "t.ipynb", ["%%step one\nx = 1"])
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    result = cluster.run(path, env={"HOME": str(empty_home)}, timeout=180)
    assert result.returncode == 1
    message = result.stderr
    assert f"Could not connect to the Ray cluster at '{cluster.address}'" in message, message
    assert "token authentication" in message and "~/.ray/auth_token" in message, message


def test_an_unreachable_cluster_is_named_at_once(tmp_path):
    path = write_notebook(tmp_path / "t.ipynb", ["%%step one\nx = 1"])
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLPIPE_RAY_ADDRESS"}
    result = subprocess.run([MLPIPE, "run", str(path), "--address", f"127.0.0.1:{port}"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert f"nothing answers at 127.0.0.1:{port}" in result.stderr, result.stderr


def _can_hide_folders() -> bool:
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -t tmpfs none /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_hide_folders(), reason="needs root to give a node a mount namespace of its own")
def test_a_node_without_the_notebooks_folder_gets_it_through_the_store(
        cluster, tmp_path_factory):
    """The `far` node cannot see the notebook's folder (nor `.mlpipe/` in it): the folder reaches it packed in
    the store (`[ray] ship_project`), values through a store at another path (file://, standing in for S3),
    and its executed notebooks and metrics come back to the driver in the step's result. A fan-out step's
    tasks there get the folder the same way (its `--files` glob and its elements read the shipped files)."""
    import shutil
    import tempfile

    project = tmp_path_factory.mktemp("project")
    store = Path(tempfile.mkdtemp(prefix="mlpipe-store-"))  # outside the hidden folder: every node reaches it
    # the folder holding the project is hidden, so the node has no such path at all
    cluster.start("far", "--num-cpus", "1", "--resources", '{"far": 1}', hide=project.parent)
    try:
        (project / "input.csv").write_text("a,b\n1,2\n3,4\n")
        (project / "parts").mkdir()
        (project / "parts" / "a.csv").write_text("x\n1\n")
        (project / "parts" / "b.csv").write_text("x\n1\n2\n")
        (project / "mlpipe.toml").write_text(
            f'store = "file://{store}"\n[ray]\nship_project = true\n[compute.far]\nresources = {{far = 1}}\n')
        path = write_notebook(project / "far.ipynb", [
            "%%step read --compute far\nimport os\n"
            f"driver_folder_visible = os.path.exists({str(project / 'far.ipynb')!r})\n"
            "rows = open('input.csv').read().splitlines()\nfrom jupyter_mlpipe import log_metric\n"
            "log_metric('rows', len(rows))\nprint('read', len(rows), 'rows')",
            "%%step count --compute far\nn = len(rows) - 1",
            "%%step write_there --compute far\nopen('made_there.csv', 'w').write(f'n\\n{n}\\n')",
            "%%step read_here\nhere = open('made_there.csv').read()",
            '%%step sizes --compute far --files "parts/*.csv" --as part\nsize = len(open(part).read().splitlines())',
        ])
        values = _values(cluster.run(path), path, ["driver_folder_visible", "n", "here", "size"])
        # a file written on the far node reached a step on another node, as the notebook would see it
        assert values == {"driver_folder_visible": False, "n": 2, "here": "n\n2\n", "size": [2, 3]}
        import jupyter_mlpipe
        from jupyter_mlpipe.store.history import History

        [record] = jupyter_mlpipe.runs(path)
        run_dir = project / ".mlpipe" / "runs" / record["id"]
        assert "read 3 rows" in (run_dir / "read.ipynb").read_text()  # the executed notebook came back
        metrics = History(project / ".mlpipe" / "history.sqlite").get_run(record["id"])["metrics"]
        assert [value for _, value, _ in metrics["read"]["rows"]] == [3.0], metrics
        assert any(store.rglob("b3-*"))  # the values went through the store at its other path
    finally:
        cluster.kill("far")
        shutil.rmtree(store, ignore_errors=True)


def test_a_worker_node_lost_mid_step_is_survived_with_retries(cluster, tmp_path):
    """The step runs on the `spot` node; that node dies; with --retries the step runs again on another."""
    marker = tmp_path / "attempts"
    path = write_notebook(tmp_path / "lost.ipynb", [
        "%%step work --retries 2\n"
        f"{NODE_ID}\n"
        f"with open({str(marker)!r}, 'a') as fh:\n    fh.write(node + '\\n')\n"
        # the first attempt waits until the node under it is killed, not a fixed time: `ray start` of the spare
        # node can take longer than any sleep on a loaded machine; the retry finds two lines and goes on
        "import time\n_t = time.time()\n"
        "while len(open(" + repr(str(marker)) + ").read().split()) == 1 and time.time() - _t < 150:\n"
        "    time.sleep(0.2)\n"
        "ran_on = node",
    ])
    (tmp_path / "mlpipe.toml").write_text('[compute.cpu]\nresources = {spot = 1}\nnum_cpus = 1\n')
    proc = subprocess.Popen([MLPIPE, "run", str(path), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**cluster.env, "MLPIPE_RAY_ADDRESS": cluster.address})
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate(timeout=60)
    cluster.start("spare", "--num-cpus", "1", "--resources", '{"spot": 1}')
    cluster.kill("big")
    out, err = proc.communicate(timeout=240)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    values = _values(result, path, ["ran_on"])
    first, second = marker.read_text().split()[:2]
    assert first != second and values["ran_on"] == second
    steps = json.loads(out)["steps"]
    assert steps["work"]["status"] == "succeeded"
