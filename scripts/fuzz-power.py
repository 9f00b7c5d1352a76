#!/usr/bin/env python3
"""The power of `fpconform fuzz` (fuzz/README.md, "Power"), as a Markdown table.

One run of `fpconform fuzz --seconds N --max-findings 1` against each target, in sequence,
with the catalog off: the reference targets and the legitimate variants must give nothing
(a finding there is a false finding, and this script then exits 1); each mutant should be
found. Prints one row per mutant or variant: for each product, "found, T s" (the time to the
first finding), "not found (N cases)", or "-" where the mutant does not apply.

Usage:
  fuzz-power.py [--build DIR] [--seconds N] [--seed S] [--jobs N] [--kind K] [NAME...]
    --build DIR   the build folder (default: build/default); mutants must be built there
    --seconds N   each run's length (default 60)
    --kind K      mutant, variant or reference (default: reference and variant); repeatable
    NAME...       only these mutants or variants ("reference" for the reference targets)
Exit status: 0 when nothing was found against a reference target or a variant, 1 otherwise,
2 for bad arguments or a missing build.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^(\d+) cases .* (\d+) findings(?: \(first after ([0-9.]+) s\))?, "
                     r"(\d+) harness errors")
FINDING = re.compile(r"^FINDING \S+ \[[^]]*\]: .* -- changed from the baseline: (.*) -- written:")


def fuzz(fpconform, target, args):
    """Runs one fuzz session; returns (cell text, minimised dims or "", found, errors)."""
    command = [str(fpconform), "fuzz", "--target", str(target), "--seconds", str(args.seconds),
               "--seed", str(args.seed), "--jobs", str(args.jobs), "--max-findings", "1"]
    done = subprocess.run(command, capture_output=True, text=True,
                          timeout=args.seconds * 4 + 120, check=False)
    summary = None
    dims = ""
    for line in done.stdout.splitlines():
        if SUMMARY.match(line):
            summary = SUMMARY.match(line)
        elif FINDING.match(line) and not dims:
            dims = FINDING.match(line).group(1)
    if summary is None:
        tail = (done.stderr.strip() or done.stdout.strip())[-300:]
        return "error (exit %d: %s)" % (done.returncode, tail), "", False, True
    cases, findings, first, errors = summary.groups()
    if int(findings) > 0:
        return "found, %s s" % first, dims, True, int(errors) > 0
    return "not found (%s cases)" % cases, "", False, int(errors) > 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build" / "default"))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--kind", action="append", choices=("mutant", "variant", "reference"))
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    kinds = set(args.kind or ("reference", "variant"))
    build = pathlib.Path(args.build).resolve()
    fpconform = build / "harness" / "fpconform"
    if not fpconform.exists():
        print("fuzz-power.py: %s: not built (./test.sh or scripts/setup.sh build default)"
              % fpconform, file=sys.stderr)
        return 2
    with open(ROOT / "reference" / "mutants" / "mutants.json", encoding="utf-8") as f:
        catalog = json.load(f)["mutants"]
    rows = []
    if "reference" in kinds and (not args.names or "reference" in args.names):
        rows.append(("reference", "reference", {"ems": "reference-ems", "lsr": "reference-lsr"}))
    for mutant in catalog:
        kind = mutant.get("kind", "mutant")
        if kind not in kinds or (args.names and mutant["name"] not in args.names):
            continue
        targets = {}
        for product in ("ems", "lsr"):
            if product in mutant["products"]:
                descriptor = build / "mutants" / "targets" / ("%s-%s.json" % (mutant["name"], product))
                if not descriptor.exists():
                    print("fuzz-power.py: %s: not built (FPCONFORM_MUTANTS=ON)" % descriptor,
                          file=sys.stderr)
                    return 2
                targets[product] = descriptor
        rows.append((mutant["name"], kind, targets))
    print("| target | kind | ems | lsr | minimised finding (first product) |")
    print("|---|---|---|---|---|")
    false_findings = 0
    for name, kind, targets in rows:
        cells = {}
        shown = ""
        for product in ("ems", "lsr"):
            if product not in targets:
                cells[product] = "-"
                continue
            cell, dims, found, errors = fuzz(fpconform, targets[product], args)
            cells[product] = cell + (" (harness errors)" if errors else "")
            shown = shown or dims
            if kind != "mutant" and (found or errors):
                false_findings += 1
        print("| `%s` | %s | %s | %s | %s |" % (name, kind, cells["ems"], cells["lsr"],
                                               "`%s`" % shown if shown else ""), flush=True)
    if false_findings:
        print("fuzz-power.py: %d run(s) found something against a reference target or a variant"
              % false_findings, file=sys.stderr)
    return 1 if false_findings else 0


if __name__ == "__main__":
    sys.exit(main())
