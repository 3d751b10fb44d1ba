"""Start-up time of the command line, against the imports it cannot avoid.

    python benchmarks/bench_startup.py [--repeats 15] [--tutor "COMMAND"]

Compares, alternately in one run, the median wall time of
  `tutor --help`                  with `python -c "import click"`, and
  `tutor attention "the cat sat"` with `python -c "import click, numpy, rich.console, rich.table"`,
and checks that `tutor --help` imports neither NumPy nor Rich. ``--tutor`` names the command
to time instead of this interpreter's installed ``tutor`` script, e.g. the script of a private
venv (``python -m venv /tmp/v && /tmp/v/bin/pip install -e .``, then run this file with
``/tmp/v/bin/python``) or ``--tutor "python -m tutor"`` from the project root (which adds
runpy's few milliseconds).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time

PAIRS = [
    ("tutor --help", ["--help"], "import click"),
    ('tutor attention "the cat sat"', ["attention", "the cat sat"],
     "import click, numpy, rich.console, rich.table"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--tutor", default=None, metavar="COMMAND",
                        help="the command to time as `tutor` (default: the installed script)")
    args = parser.parse_args()
    if args.tutor:
        tutor = shlex.split(args.tutor)
    else:
        # this interpreter's own entry script (a version manager's shim on PATH would add its
        # own start-up to every run)
        script = os.path.join(sysconfig.get_path("scripts"), "tutor")
        if not os.path.exists(script):
            script = shutil.which("tutor") or sys.exit("tutor is not installed: pip install . "
                                                       "first, or pass --tutor")
        tutor = [script]
    print(f"tutor: {shlex.join(tutor)}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("warning: PYTHONDONTWRITEBYTECODE is set, so an editable install compiles tutor's "
              "modules from source on every run; measure a `pip install .` (which byte-compiles) "
              "or unset it")
    check = ("import sys\nfrom tutor.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in ('numpy', 'rich') if m in sys.modules), file=sys.stderr)")
    heavy = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True).stderr
    print(f"heavy modules imported by `tutor --help`: {heavy.strip().splitlines()[-1]}")
    for label, tutor_args, baseline in PAIRS:
        commands = {label: [*tutor, *tutor_args], f"python -c \"{baseline}\"": [sys.executable, "-c", baseline]}
        times = {name: [] for name in commands}
        for _ in range(args.repeats):                                  # alternate, same run
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                times[name].append(time.perf_counter() - start)
        (ours, our_times), (base, base_times) = times.items()
        ratio = statistics.median(our_times) / statistics.median(base_times)
        print(f"{ours}: median {statistics.median(our_times) * 1000:.0f} ms; {base}: "
              f"{statistics.median(base_times) * 1000:.0f} ms; ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
