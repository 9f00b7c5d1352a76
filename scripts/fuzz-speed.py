#!/usr/bin/env python3
"""The speed of `fpconform fuzz` beside catalog runs, measured in one run (fuzz/README.md).

Alternates, ROUNDS times, a whole catalog run (`fpconform run`) and a fuzz run of as many
cases (`fpconform fuzz --cases N`, seed = the round) against the same reference target, with
the same --jobs, and prints each one's runs per second and their ratio (fuzz / catalog),
per round and as the median. The issue's goal: a ratio of at least 0.5.

Usage: fuzz-speed.py [--build DIR] [--target NAME] [--rounds N] [--jobs N]
Exit status: 0, or 2 for a missing build or a run that fails.
"""

import argparse
import pathlib
import re
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUNS = re.compile(r"(\d+) passed")
CASES = re.compile(r"^(\d+) cases \(")


def timed(command):
    """Runs `command`; returns (seconds, stdout) or exits 2 when it fails."""
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print("fuzz-speed.py: %s: exit %d: %s" % (" ".join(command[:4]), done.returncode,
                                                  (done.stderr or done.stdout).strip()[-300:]),
              file=sys.stderr)
        sys.exit(2)
    return seconds, done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build" / "default"))
    parser.add_argument("--target", default="reference-ems")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    fpconform = pathlib.Path(args.build).resolve() / "harness" / "fpconform"
    if not fpconform.exists():
        print("fuzz-speed.py: %s: not built" % fpconform, file=sys.stderr)
        return 2
    ratios = []
    print("| round | catalog runs/s | fuzz cases/s | ratio |")
    print("|---|---|---|---|")
    for round_ in range(1, max(1, args.rounds) + 1):
        seconds, out = timed([str(fpconform), "run", "--target", args.target, "--jobs",
                              str(args.jobs)])
        runs = sum(int(m.group(1)) for m in RUNS.finditer(out.splitlines()[-1]))
        runs = max(runs, 1)
        catalog = runs / seconds
        seconds, out = timed([str(fpconform), "fuzz", "--target", args.target, "--cases",
                              str(runs), "--seed", str(round_), "--jobs", str(args.jobs)])
        cases = next((int(CASES.match(line).group(1)) for line in out.splitlines()
                      if CASES.match(line)), runs)
        fuzz = cases / seconds
        ratios.append(fuzz / catalog)
        print("| %d | %.1f (%d runs) | %.1f (%d cases) | %.2f |" % (round_, catalog, runs, fuzz,
                                                                   cases, ratios[-1]), flush=True)
    print("median ratio (fuzz / catalog): %.2f" % statistics.median(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
