#!/usr/bin/env python3
"""ci.examples: the CI examples in ci/ parse as YAML and do what ci/README.md says.

Checks the structure a vendor relies on (build once, shards in a matrix or `parallel:`,
reports uploaded even when a shard fails, the shard reports merged, JUnit and HTML uploaded,
the Markdown summary posted), and that every option of every `fpconform` command in them is
one the built fpconform accepts (`fpconform <command> --help`). Exit 0 ok, 1 a finding, 77
(skipped) when a command they use is not in this build.

    ci_examples_test.py CI_DIR FPCONFORM_BINARY
"""
import re
import subprocess
import sys

import yaml

SKIP = 77


def fail(message):
    print(f"ci_examples_test: {message}", file=sys.stderr)
    sys.exit(1)


def scripts(node):
    """Yields every string of a parsed YAML document (run: blocks, script: lines, ...)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from scripts(value)
    elif isinstance(node, list):
        for value in node:
            yield from scripts(value)


def fpconform_commands(text):
    """Yields (command, options) for each `fpconform <command> ...` in a shell text."""
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        for match in re.finditer(r"(?:^|[\s;&|(])fpconform\s+([a-z][a-z-]*)([^;&|]*)", line):
            yield match.group(1), re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", match.group(2))


def check_options(documents, binary):
    helps = {}
    missing = set()
    for name, doc in documents.items():
        for text in scripts(doc):
            for command, options in fpconform_commands(text):
                if command not in helps:
                    result = subprocess.run([binary, command, "--help"], capture_output=True,
                                            text=True, timeout=60, check=False)
                    known = result.returncode == 0 and f"fpconform {command} " in result.stdout
                    helps[command] = result.stdout if known else None
                if helps[command] is None:
                    missing.add(command)
                    continue
                for option in options:
                    if not re.search(re.escape(option) + r"\b", helps[command]):
                        fail(f"{name}: fpconform {command} has no option {option}")
    return missing


def main():
    ci_dir, binary = sys.argv[1], sys.argv[2]
    documents = {}
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        with open(f"{ci_dir}/{name}", encoding="utf-8") as f:
            try:
                documents[name] = yaml.safe_load(f)
            except yaml.YAMLError as error:
                fail(f"{name}: not YAML: {error}")

    gh = documents["github-actions.yml"]
    jobs = gh.get("jobs", {})
    for job in ("suite", "conformance", "report"):
        if job not in jobs:
            fail(f"github-actions.yml: no job {job}")
    matrix = jobs["conformance"]["strategy"]["matrix"]
    if matrix["shard"] != list(range(1, matrix["total"][0] + 1)) or len(matrix["shard"]) < 2:
        fail("github-actions.yml: the shard matrix is not 1..total")
    run_text = "\n".join(scripts(jobs["conformance"]))
    if "--shard ${{ matrix.shard }}/${{ matrix.total }}" not in run_text:
        fail("github-actions.yml: the conformance job does not run its shard")
    uploads = [s for s in jobs["conformance"]["steps"]
               if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    if not uploads or uploads[0].get("if") != "always()":
        fail("github-actions.yml: shard reports are not uploaded when a shard fails")
    report_text = "\n".join(scripts(jobs["report"]))
    for needle in ("fpconform merge", "GITHUB_STEP_SUMMARY", "fpconform.xml", "fpconform.html"):
        if needle not in report_text:
            fail(f"github-actions.yml: the report job lacks {needle}")
    if "always()" not in str(jobs["report"].get("if", "")):
        fail("github-actions.yml: the report job does not run after a failed shard")

    gl = documents["gitlab-ci.yml"]
    conformance = gl.get("fpconform-conformance", {})
    if not isinstance(conformance.get("parallel"), int) or conformance["parallel"] < 2:
        fail("gitlab-ci.yml: fpconform-conformance has no parallel: N")
    if '--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"' not in "\n".join(scripts(conformance)):
        fail("gitlab-ci.yml: the conformance job does not run its shard")
    if conformance.get("artifacts", {}).get("when") != "always":
        fail("gitlab-ci.yml: shard reports are not kept when a shard fails")
    report = gl.get("fpconform-report", {})
    if report.get("when") != "always" or "fpconform merge" not in "\n".join(scripts(report)):
        fail("gitlab-ci.yml: the report job does not merge after every shard")
    for job in gl.values():
        if isinstance(job, dict) and "script" in job and job.get("stage") not in gl["stages"]:
            fail(f"gitlab-ci.yml: a job names an unknown stage {job.get('stage')}")

    missing = check_options(documents, binary)
    if missing:
        print(f"ci_examples_test: skipped: this fpconform has no {', '.join(sorted(missing))} "
              "command, so its options are unchecked")
        sys.exit(SKIP)
    print("ci_examples_test: ok")


if __name__ == "__main__":
    main()
