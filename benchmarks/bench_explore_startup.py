"""Start-up of `tutor explore`: the time from launch to the first full screen, in a real
pseudo-terminal of 80×24, against `tutor attention` (which prints and exits).

    python benchmarks/bench_explore_startup.py [--repeats 5]

Runs `python -m tutor` from this checkout, alternately, and quotes medians. The explorer
counts as started when its worked line ("Worked:") has been drawn; then it is sent `q`
and must exit.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import termios
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = b"Worked:"


def explore_once(timeout: float = 30.0) -> float:
    """Seconds from launch until the first screen shows MARKER; then quit with q."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "explore", "the cat sat"],
                            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env,
                            start_new_session=True)
    os.close(slave)
    seen, elapsed = b"", None
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                seen += chunk
                if elapsed is None and MARKER in seen:
                    elapsed = time.perf_counter() - start
                    os.write(master, b"q")
            if proc.poll() is not None:
                break
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    if elapsed is None:
        raise SystemExit(f"the explorer did not draw {MARKER!r} within {timeout} s")
    if proc.returncode != 0:
        raise SystemExit(f"the explorer exited with {proc.returncode}")
    return elapsed


def attention_once() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tutor", "attention", "the cat sat"], cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    explore, attention = [], []
    for _ in range(args.repeats):                                      # alternate, same run
        explore.append(explore_once())
        attention.append(attention_once())
    e, a = statistics.median(explore), statistics.median(attention)
    print(f"tutor explore (first screen drawn): median {e * 1000:.0f} ms "
          f"(runs: {', '.join(f'{t * 1000:.0f}' for t in explore)})")
    print(f"tutor attention (printed and exited): median {a * 1000:.0f} ms; ratio {e / a:.2f}")


if __name__ == "__main__":
    main()
