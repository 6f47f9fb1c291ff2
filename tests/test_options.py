"""The %%step line: parse_step_line (shared by the magic and the planner)."""

from __future__ import annotations

import json

import pytest

from jupyter_mlpipe import StepOptionError
from jupyter_mlpipe.plan.options import parse_memory, parse_step_line, step_help


def test_name_only():
    o = parse_step_line("train")
    assert o.name == "train" and o.compute is None and o.retries == 0 and not o.no_cache
    assert o.inputs is None and o.outputs is None and o.after == () and o.deps == ()


def test_every_option():
    o = parse_step_line("train --compute gpu --gpus 0.5 --cpus 2 --memory 4GB --retries 3 --timeout 600 "
                        "--no-cache --inputs X,y --outputs model --after load,clean --deps data/*.csv,cfg.yml "
                        "--defer")
    assert o.name == "train" and o.compute == "gpu" and o.gpus == 0.5 and o.cpus == 2
    assert o.memory == 4_000_000_000 and o.retries == 3 and o.timeout == 600 and o.no_cache and o.defer
    assert o.inputs == ("X", "y") and o.outputs == ("model",) and o.after == ("load", "clean")
    assert o.deps == ("data/*.csv", "cfg.yml")
    json.dumps(o.to_dict())


@pytest.mark.parametrize("text, expected", [
    ("4GB", 4 * 1000**3), ("512MB", 512 * 1000**2), ("2GiB", 2 * 1024**3), ("1.5G", 1_500_000_000),
    ("100", 100), ("8kb", 8000), ("1TiB", 1024**4),
])
def test_memory_sizes(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("value", ["0.5", "0.25", "1", "2", "0"])
def test_gpu_fractions_below_one_and_whole_numbers(value):
    assert parse_step_line(f"t --gpus {value}").gpus == float(value)


def test_equals_form_and_comments():
    assert parse_step_line("t --gpus=2  # on the big box").gpus == 2


@pytest.mark.parametrize("line, flag", [
    ("t --gpus abc", "--gpus"),
    ("t --gpus -1", "--gpus"),
    ("t --gpus 1.5", "--gpus"),
    ("t --gpus nan", "--gpus"),
    ("t --cpus 2.5", "--cpus"),
    ("t --cpus -2", "--cpus"),
    ("t --memory lots", "--memory"),
    ("t --memory 0", "--memory"),
    ("t --memory -4GB", "--memory"),
    ("t --retries two", "--retries"),
    ("t --retries -1", "--retries"),
    ("t --timeout 0", "--timeout"),
    ("t --timeout inf", "--timeout"),
    ("t --inputs 1x", "--inputs"),
    ("t --outputs a-b", "--outputs"),
    ("t --after ../x", "--after"),
    ("t --compute ../x", "--compute"),
    ("t --compute", "--compute"),
    ("t --gpu 1", "--gpu"),
    ("t --no-cahce", "--no-cahce"),
])
def test_bad_values_name_the_flag(line, flag):
    with pytest.raises(StepOptionError) as info:
        parse_step_line(line)
    assert flag in str(info.value)
    assert info.value.step == "t"


def test_unknown_flag_suggests_the_right_one():
    with pytest.raises(StepOptionError, match="Did you mean --gpus"):
        parse_step_line("t --gpu 1")


@pytest.mark.parametrize("line", ["../x", "a/b", "my step", "'my step'", "1abc", "x" * 65, "a.b", "-x", "",
                                  "   ", "ünïcode"])
def test_invalid_step_names(line):
    with pytest.raises(StepOptionError) as info:
        parse_step_line(line)
    assert "name" in str(info.value)


def test_names_with_spaces_say_so():
    with pytest.raises(StepOptionError, match="cannot contain spaces"):
        parse_step_line("my step")


@pytest.mark.parametrize("name", ["a", "train_model", "step-2", "_private", "A" * 64])
def test_valid_step_names(name):
    assert parse_step_line(name).name == name


def test_after_itself():
    with pytest.raises(StepOptionError, match="itself"):
        parse_step_line("a --after a")


def test_unbalanced_quote():
    with pytest.raises(StepOptionError):
        parse_step_line("a --deps 'x")


def test_help_lists_every_option():
    text = step_help()
    for flag in ["--compute", "--gpus", "--cpus", "--memory", "--retries", "--timeout", "--no-cache", "--inputs",
                 "--outputs", "--after", "--deps", "--defer"]:
        assert flag in text


def test_parse_is_cached_and_options_are_frozen():
    a = parse_step_line("cached --cpus 2")
    assert a is parse_step_line("cached --cpus 2")
    with pytest.raises(AttributeError):
        a.cpus = 3  # type: ignore[misc]
