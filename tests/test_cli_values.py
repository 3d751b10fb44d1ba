"""tutor.cli.values: every numeric option's error states the range the option really accepts
(issue 20: `backward --lr 1e9` said "from -1,000,000 to 1,000,000" while no number ≤ 0 is
taken), the same whichever side a number is off, checked over every command's options."""

from __future__ import annotations

import math
import re

import click
import pytest
from click.testing import CliRunner

from tutor.cli import cli
from tutor.cli.values import check_finite, number_range

# arguments that let each command reach its options; train's --output is refused only after
# every option is parsed, so that no probe trains a model
BASE = {"attention": ["the cat"], "multihead": ["the cat"], "softmax": ["1", "2"],
        "layernorm": ["1,2,3"], "backward": ["the cat"], "encode": ["the cat"],
        "transformer": ["the cat"], "generate": ["3 1 4"], "heads": ["the cat"],
        "context": ["a river bank x", "the bank x", "--word", "bank"],
        "scaling": ["--train", "--steps", "1", "--dim", "4", "--dk", "4"],
        "train": ["--output", "not-a-checkpoint.txt"]}
SKIP = {"explore", "lesson"}              # interactive: a probe that is accepted would wait
NUMBER = r"-?[\d,]*\.?\d+(?:e[-+]?\d+)?"


def numeric_options():
    ctx = click.Context(cli)

    def walk(group, path=()):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                yield from walk(command, path + (name,))
            elif (path + (name,))[0] not in SKIP:
                for param in command.params:
                    if isinstance(param, click.Option) and isinstance(
                            param.type, (click.types.IntParamType, click.types.FloatParamType)):
                        yield path + (name,), param
    return list(walk(cli))


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def stated_range(message: str):
    """(low, low included, high, high included) from an error's words, or None."""
    patterns = [
        (rf"greater than ({NUMBER}) and at most ({NUMBER})", False, True),
        (rf"from ({NUMBER}) to ({NUMBER})", True, True),
        (rf"in \(({NUMBER}), ({NUMBER})\]", False, True),
        (rf"range ({NUMBER})<=x<=({NUMBER})", True, True),
        (rf"range ({NUMBER})<=x<({NUMBER})", True, False),
    ]
    for pattern, low_in, high_in in patterns:
        found = re.search(pattern, message)
        if found:
            return _number(found.group(1)), low_in, _number(found.group(2)), high_in
    found = re.search(rf"of at least ({NUMBER})", message)
    if found:
        return _number(found.group(1)), True, math.inf, True
    found = re.search(rf"greater than ({NUMBER})", message)
    if found:
        return _number(found.group(1)), False, math.inf, True
    return None


def inside(value: float, bounds) -> bool:
    low, low_in, high, high_in = bounds
    return (value > low or (low_in and value == low)) and (value < high or (high_in and value == high))


OPTIONS = numeric_options()


def test_every_command_with_numeric_options_is_probed():
    probed = {path[0] for path, _ in OPTIONS}
    assert {"attention", "backward", "softmax", "layernorm", "generate", "train",
            "scaling", "encode"} <= probed


@pytest.mark.parametrize("path, param", OPTIONS,
                         ids=[" ".join(p) + " " + q.opts[0] for p, q in OPTIONS])
def test_a_numeric_options_error_states_its_real_range(path, param, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                        # nothing a probe writes stays behind
    integer = isinstance(param.type, click.types.IntParamType)
    probes = [10 ** 9, -10 ** 9, 0, -1, 1] if integer else [1e9, -1e9, 0.0, -1.0, 0.5, 1e-9]
    if path == ("train",) and param.name == "seed":
        pytest.skip("train --seed 1 would train (covered by the other commands' --seed)")
    option = param.opts[0]
    ranges, rejected, accepted = set(), [], []
    for value in probes:
        result = CliRunner().invoke(cli, [*path, *BASE.get(path[0], []), option, str(value)],
                                    env={"COLUMNS": "200", "NO_COLOR": "1"})
        errors = [line for line in result.output.splitlines() if line.startswith("Error")]
        mine = [line for line in errors if f"'{option}'" in line]
        bounds = stated_range(mine[0]) if mine else None
        if bounds is not None:
            ranges.add(bounds)
            rejected.append(value)
        elif not mine:
            accepted.append(value)
    assert len(ranges) <= 1, f"{option} states different ranges: {ranges}"
    if ranges:
        (bounds,) = ranges
        for value in rejected:
            assert not inside(value, bounds), (option, value, bounds)
        for value in accepted:
            assert inside(value, bounds), (option, value, bounds)


@pytest.mark.parametrize("kwargs, words, good, bad", [
    ({}, "from -1,000,000 to 1,000,000", [-1e6, 0, 1e6], [-1.5e6, 2e6]),
    ({"positive": True}, "greater than 0 and at most 1,000,000", [1e-300, 1e6], [0, -1, 2e6]),
    ({"positive": True, "smallest": 1e-6}, "from 1e-06 to 1,000,000", [1e-6, 1], [5e-7, 0, 2e6]),
    ({"minimum": 0.0}, "from 0 to 1,000,000", [0, 1e6], [-1e-9, 1.5e6]),
    ({"positive": True, "maximum": 100}, "greater than 0 and at most 100", [100, 0.1], [0, 101]),
])
def test_check_finite_accepts_exactly_the_range_it_states(kwargs, words, good, bad):
    assert number_range(**kwargs) == words
    for value in good:
        assert check_finite("--x", value, **kwargs) == value
    for value in bad + [math.nan, math.inf]:
        with pytest.raises(click.BadParameter) as info:
            check_finite("--x", value, **kwargs)
        assert words in info.value.message
