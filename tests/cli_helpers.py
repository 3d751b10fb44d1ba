"""Running a command in-process for the CLI tests: plain output pinned at 80 columns."""

import json

import click
import pytest
from click.testing import CliRunner

from tutor.cli import cli, main
from tutor.cli import progress

# the notice of slow work ("encode: … (3 s)" on standard error) would join CliRunner's output
# on a loaded machine; the tests of the notice itself (tests/test_cli_progress.py) set it back
progress.DELAY = 600.0


def invoke(*args):
    """`tutor ARGS` under CliRunner, NO_COLOR unset and COLUMNS=80 (the width the expected
    texts are written at); exceptions propagate."""
    return CliRunner().invoke(cli, list(args), env={"NO_COLOR": None, "COLUMNS": "80"},
                              catch_exceptions=False)


@click.command(add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def entry(ctx):
    """The real entry point, ``tutor.cli.main`` with its error boundary, under CliRunner:
    ``CliRunner().invoke(entry, ["lesson", ...])`` runs `tutor lesson ...` as a user does."""
    main(ctx.args)


def invoke_json(*args):
    """The JSON document `tutor ARGS --format json` prints (the run must succeed)."""
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def one_line_error(capsys, args, code=2):
    """What `tutor ARGS` (``tutor.cli.main``, its error boundary included) prints when it
    refuses ARGS: asserts exit code CODE and one line starting ``Error: `` on standard error,
    and returns that line (with its newline)."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    assert info.value.code == code, args
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    return err


def assert_lesson_step_is_the_commands(step, command):
    """The lesson's compute ``step`` shows what `tutor COMMAND --format json` shows: every step
    named in ``step.show`` is the command's step of that key (title, formula, worked lines,
    meaning) and every matrix its parts name holds the same numbers."""
    import numpy as np

    from tutor.lessons.compute import run_lesson_computation
    from tutor.render.text import to_json

    ours = json.loads(to_json(run_lesson_computation(step).document))
    theirs = invoke_json(*command)
    assert step.show and set(step.show) <= {s["key"] for s in theirs["steps"]}
    for key in step.show:
        mine = next(s for s in ours["steps"] if s["key"] == key)
        assert mine == next(s for s in theirs["steps"] if s["key"] == key), key
        for name in {m.split("[")[0] for part in mine["parts"] for m in part["matrices"]}:
            np.testing.assert_array_equal(ours["matrices"][name], theirs["matrices"][name])


def for_command(name):
    """(run, run_json) bound to one command: run("6", "4") is `tutor NAME 6 4`."""
    return (lambda *args: invoke(name, *args)), (lambda *args: invoke_json(name, *args))


# --- many command lines in one real process ----------------------------------------------------

_BATCH_CHILD = r'''
import base64, json, os, sys, tempfile, traceback

def batch():
    with open(sys.argv[1], encoding="utf-8") as f:
        runs = json.load(f)
    from tutor.cli import main
    saved = os.dup(1), os.dup(2)
    streams = [(name, getattr(sys, name)) for name in ("stdin", "stdout", "stderr")]
    configs = [(stream, stream.encoding, stream.errors) for _, stream in streams]
    results = []
    for run in runs:
        for name, stream in streams:                               # each run starts with the
            setattr(sys, name, stream)                             # streams Python made, as
        for stream, encoding, errors in configs:                   # a fresh process does
            stream.reconfigure(encoding=encoding, errors=errors)
        args = [os.fsdecode(base64.b64decode(a)) for a in run]    # as Python decodes argv
        files = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(files[0].fileno(), 1)
        os.dup2(files[1].fileno(), 2)
        try:
            try:
                main(args)
                code = 0
            except SystemExit as exc:                              # as the interpreter ends
                code = exc.code
                if code is None:
                    code = 0
                elif not isinstance(code, int):
                    print(code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (OSError, ValueError):
                        pass
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        got = []
        for f in files:
            f.seek(0)
            got.append(base64.b64encode(f.read()).decode("ascii"))
            f.close()
        results.append([code, *got])
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f)

batch()
'''


def tutor_batch(runs, env, cwd=None, timeout=600):
    """Each of ``runs`` (argument lists of str or bytes, as on a real command line) run by
    ``tutor.cli.main`` one after the other in ONE real ``python`` process started with the
    environment ``env`` (the whole of it) and standard input /dev/null: the arguments are
    decoded as Python decodes ``sys.argv`` (os.fsdecode), standard output and error are the
    interpreter's own streams (its encoding under LC_ALL=C or PYTHONIOENCODING), set back to
    the encoding and error handler Python gave them and pointed at a fresh file before each
    run, and a SystemExit becomes the exit code as the interpreter makes
    it. Returns [(exit code, stdout bytes, stderr bytes)], one per run. For what needs a
    process of its own (a closed or piped standard input, a terminal, signals, /dev/full, an
    argument decoded under another locale), run ``python -m tutor`` instead."""
    import base64
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        given, taken = os.path.join(folder, "runs.json"), os.path.join(folder, "results.json")
        with open(given, "w", encoding="utf-8") as f:
            json.dump([[base64.b64encode(a if isinstance(a, bytes) else os.fsencode(a))
                        .decode("ascii") for a in run] for run in runs], f)
        done = subprocess.run([sys.executable, "-c", _BATCH_CHILD, given, taken], env=env,
                              cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
        assert done.returncode == 0 and os.path.exists(taken), done.stderr.decode(errors="replace")
        with open(taken, encoding="utf-8") as f:
            results = json.load(f)
    return [(code, base64.b64decode(out), base64.b64decode(err)) for code, out, err in results]
