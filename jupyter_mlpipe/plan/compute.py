"""Compute targets and environments: what a step's `--compute`, `--cpus`, `--gpus`, `--memory` and `--env`
ask of the cluster.

A target is a named set of resources (`cpu`, `gpu`, or one defined in
mlpipe.toml under `[compute.NAME]`); a step's own options override the
target's values. A step's environment (`--env NAME`, else the target's
`env`) becomes its Ray `runtime_env`. Planning checks the target and the
environment exist, so that a typo fails when the notebook is planned rather
than when the step is scheduled.
"""

from __future__ import annotations

import difflib
from typing import Any

from ..env_config import EnvSpec, runtime_env_of
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


def step_resources(step: Step, targets: ComputeTargets, envs: dict[str, EnvSpec] | None = None) -> dict[str, Any]:
    """The step's compute target and resources: the target's, overridden by the step's options; its
    environment's `runtime_env` (fields of the environment win over a target's own `runtime_env`)."""
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
    env = options.env or spec.pop("env", None)
    spec.pop("env", None)
    if env is not None:
        known = envs or {}
        if env not in known:
            close = difflib.get_close_matches(env, sorted(known), n=1)
            origin = f"--env {env}" if options.env else f"--compute {target}, whose env = {env!r}"
            raise PlanError(
                f"Step {step.name!r} asks for {origin}, which is not an environment defined in mlpipe.toml.",
                step=step.name, cell=step.cells[0], variable=env,
                hint=(f"Did you mean {close[0]!r}? " if close else "")
                + f"Known environments: {', '.join(sorted(known)) or '(none)'}; define one in mlpipe.toml "
                f"under [env.{env}].",
            )
        spec["env"] = env
        spec["runtime_env"] = {**(spec.get("runtime_env") or {}), **runtime_env_of(known[env])}
    return {"compute": target, **spec}
