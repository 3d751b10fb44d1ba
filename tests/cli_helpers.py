"""Running a command in-process for the CLI tests: plain output pinned at 80 columns."""

import json

from click.testing import CliRunner

from tutor.cli import cli
from tutor.cli import progress

# the notice of slow work ("encode: … (3 s)" on standard error) would join CliRunner's output
# on a loaded machine; the tests of the notice itself (tests/test_cli_progress.py) set it back
progress.DELAY = 600.0


def invoke(*args):
    """`tutor ARGS` under CliRunner, NO_COLOR unset and COLUMNS=80 (the width the expected
    texts are written at); exceptions propagate."""
    return CliRunner().invoke(cli, list(args), env={"NO_COLOR": None, "COLUMNS": "80"},
                              catch_exceptions=False)


def invoke_json(*args):
    """The JSON document `tutor ARGS --format json` prints (the run must succeed)."""
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def for_command(name):
    """(run, run_json) bound to one command: run("6", "4") is `tutor NAME 6 4`."""
    return (lambda *args: invoke(name, *args)), (lambda *args: invoke_json(name, *args))
