"""Where steps run: the `Backend` protocol the driver submits step tasks to, and an in-process backend.

The driver (`runner`) decides what runs, in which order, and what a finished
step means for the run; a backend only runs step tasks and says when they have
finished. Keeping that line lets the driver loop be tested without a cluster:

- `ray_backend.RayBackend` runs each step as a Ray task with its resource
  request, in warm worker processes (what a real run uses);
- `InProcessBackend` runs steps one at a time in this process, with the same
  task body (`worker.run_step_task`) and the same in-process papermill engine:
  no Ray, no parallelism, no resource requests, no retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .task import StepResult, StepTask

__all__ = ["Backend", "Finished", "InProcessBackend", "Outcome", "Resources"]

logger = logging.getLogger(__name__)

Resources = dict[str, Any]
"""A step's resource request as the plan gives it: num_cpus, num_gpus, memory, resources, ..."""

Outcome = Literal["returned", "cancelled", "crashed", "lost"]
"""How a step task ended: it returned a `StepResult` (the step succeeded, or failed as data);
it was cancelled; the task body itself raised (a bug of jupyter-mlpipe, `error` says what);
its worker process was lost (killed, out of memory, node gone; `error` says what)."""


@dataclass
class Finished:
    """A step task that is over, and how."""

    name: str
    outcome: Outcome
    result: StepResult | None = None  # outcome "returned"
    error: BaseException | None = None  # outcome "crashed" or "lost"


class Backend(Protocol):
    """Runs step tasks for the driver. Steps are named; one task per step at a time."""

    def start(self, requests: dict[str, Resources]) -> None:
        """Get ready before the first submit (start or connect to a cluster).

        `requests` are the resource requests of the steps that may still run:
        raise `InfeasibleRequest` for one that can never be met, before
        anything is submitted.
        """

    def submit(self, name: str, task: StepTask, resources: Resources, retries: int) -> None:
        """Run step `name`'s task; a lost worker is retried up to `retries` times."""

    def wait(self, timeout: float) -> list[Finished]:
        """The submitted steps that finished: at least one, or none after `timeout` seconds."""

    def cancel(self, name: str) -> None:
        """Stop step `name` if it still runs (killing its worker if need be) and forget it."""

    def close(self) -> None:
        """The run is over: let go of what `start` took (a connection to the cluster)."""


class InProcessBackend:
    """Runs steps in this process, one at a time, as the driver waits for them: no Ray.

    A submitted step runs during the driver's next `wait()`, in the calling
    thread. `cancel()` only drops steps not started yet; a Ctrl-C while a step
    runs interrupts it and cancels the run, as it does with Ray. Meant for
    tests and debugging: the user's code runs in the driver's process.
    """

    def __init__(self) -> None:
        self.queue: dict[str, StepTask] = {}
        self.refused: dict[str, Resources] = {}  # steps with a runtime_env: this process cannot give it

    def start(self, requests: dict[str, Resources]) -> None:
        """Nothing to start; resource requests are not enforced in this process."""

    def submit(self, name: str, task: StepTask, resources: Resources, retries: int) -> None:
        if resources.get("runtime_env"):  # never run it silently in the driver's environment instead
            self.refused[name] = resources
        self.queue[name] = task

    def wait(self, timeout: float) -> list[Finished]:
        if not self.queue:
            return []
        from .worker import run_step_task

        name = next(iter(self.queue))
        task = self.queue.pop(name)
        if name in self.refused:
            from .environments import env_failure_result

            env = self.refused.pop(name).get("env")
            return [Finished(name, "returned", result=env_failure_result(
                name, env, "the in-process backend runs steps in the driver's process, which cannot have "
                "another environment; run it on Ray", task["output_path"]))]
        try:
            result = run_step_task(task)
        except Exception as exc:  # noqa: BLE001 - a bug of ours, reported as the step's failure
            logger.debug("the task of step %r raised", name, exc_info=True)
            return [Finished(name, "crashed", error=exc)]
        return [Finished(name, "returned", result=result)]

    def cancel(self, name: str) -> None:
        self.queue.pop(name, None)
        self.refused.pop(name, None)

    def close(self) -> None:
        """Nothing was taken."""
