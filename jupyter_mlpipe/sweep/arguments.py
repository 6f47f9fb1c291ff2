"""The sweep's flags, one wording for `mlpipe sweep` and `%pipeline sweep`."""

from __future__ import annotations

import argparse
from typing import Any

from ..plan.options import int_arg

__all__ = ["add_sweep_arguments", "sweep_kwargs"]


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """-p, --metric, --goal, --search, --trials, --seed, --parallel, --early-stop on a parser."""
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUES",
                        help="a parameter to vary: values (C=0.01,0.1,1) or a range (C=log(0.001,10), "
                        "depth=int(2,12), dropout=uniform(0,0.5)); one value fixes it for every trial")
    parser.add_argument("--metric", default=None, metavar="METRIC",
                        help="what to optimize: a metric a step logs with log_metric (NAME, or STEP.NAME)")
    parser.add_argument("--goal", default=None, metavar="min|max", help="whether the best trial has the "
                        "lowest (min) or highest (max) last value of METRIC")
    parser.add_argument("--search", default=None, metavar="grid|random|bayes",
                        help="grid: every combination (the default when every parameter has values); random: "
                        "--trials samples (the default with a log/uniform range); bayes: Optuna's TPE")
    parser.add_argument("--trials", type=int_arg("--trials", 1), default=None, metavar="N",
                        help="how many trials random and bayes search run")
    parser.add_argument("--seed", type=int_arg("--seed", 0), default=None, metavar="N",
                        help="the random seed of random and bayes search: the same seed, the same trials")
    parser.add_argument("--parallel", type=int_arg("--parallel", 1), default=None, metavar="K",
                        help="run at most K trials at once (default: as many as the cluster fits)")
    parser.add_argument("--early-stop", default=None, metavar="median|asha",
                        help="stop trials whose METRIC, as the steps log it (log_metric(..., step=i)), is "
                        "behind: median (below the median of the other trials so far) or asha (successive "
                        "halving)")


def sweep_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `sweep.sweep` from parsed flags."""
    return {"metric": args.metric, "goal": args.goal, "search": args.search, "trials": args.trials,
            "seed": args.seed, "parallel": args.parallel, "early_stop": args.early_stop}
