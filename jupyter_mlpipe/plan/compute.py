"""Compute targets: what a step's `--compute`, `--cpus`, `--gpus` and `--memory` ask of the cluster.

A target is a named set of resources (`cpu`, `gpu`, or one defined in
mlpipe.toml under `[compute.NAME]`); a step's own options override the
target's values. Planning checks the target exists, so that a typo fails when
the notebook is planned rather than when the step is scheduled.
"""

from __future__ import annotations

from typing import Any

from ..errors import PlanError
from .model import Step

__all__ = ["DEFAULT_COMPUTE", "ComputeTargets", "compute_targets", "step_resources"]

ComputeTargets = dict[str, dict[str, Any]]  # target name -> its resources (Ray's names: num_cpus, num_gpus, memory)

DEFAULT_COMPUTE: ComputeTargets = {
    "cpu": {"num_cpus": 1},
    "gpu": {"num_cpus": 1, "num_gpus": 1},
}


def compute_targets(configured: ComputeTargets | None) -> ComputeTargets:
    """The default targets with the configured ones added (a configured `cpu` or `gpu` replaces the default)."""
    targets = dict(DEFAULT_COMPUTE)
    targets.update(configured or {})
    return targets


def step_resources(step: Step, targets: ComputeTargets) -> dict[str, Any]:
    """The step's compute target and resources: the target's, overridden by the step's options."""
    options = step.options
    target = options.compute or "cpu"
    if target not in targets:
        raise PlanError(
            f"Step {step.name!r} asks for --compute {target}, which is not a known compute target.",
            step=step.name, cell=step.cells[0], variable=target,
            hint=f"Known targets: {', '.join(sorted(targets))}; define more in mlpipe.toml "
            f"under [compute.{target}].",
        )
    spec = dict(targets[target])
    if options.cpus is not None:
        spec["num_cpus"] = options.cpus
    if options.gpus is not None:
        spec["num_gpus"] = options.gpus
    if options.memory is not None:
        spec["memory"] = options.memory
    spec.setdefault("num_cpus", 1)
    return {"compute": target, **spec}
