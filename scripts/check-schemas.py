#!/usr/bin/env python3
"""Checks the published JSON Schemas (schemas/) against the data files and the loaders.

  check-schemas.py SOURCE_DIR SCHEMA_FIELDS            every check below; exit 1 on a problem
  check-schemas.py --self-test SOURCE_DIR SCHEMA_FIELDS  shows that the checks can fail
  check-schemas.py --report FILE SOURCE_DIR            validates one JSON report (fpconform run --json)
  check-schemas.py --run-report SOURCE_DIR FPCONFORM   runs a few scenarios, validates their report

SCHEMA_FIELDS is the schema_fields program (build/<preset>/harness/schema_fields): it loads
files with the suite's own loaders and lists the fields they asked for.

1. Every schema is a valid draft 2020-12 schema.
2. Every data file of the tree (scenario files, the clause table, target descriptors,
   deviations files, the examples in schemas/examples/) names its schema ("$schema", relative to the file) and a "version",
   loads, and validates against that schema.
3. Every fixture meant to be valid (a fuzz seed the loader accepts) validates too.
4. The fields each loader accepts are exactly the properties its schema describes, object by
   object, both ways: a field added to a loader but not to its schema (or the reverse) fails.

Validation uses python3-jsonschema (Debian 12: 4.10), nothing newer.
"""

import copy
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import jsonschema

# Document kinds: the stem of each schema's file name.
KINDS = ("scenario-file", "target-descriptor", "deviations", "clauses")
REPORT_KIND = "report"

# Paths that one loader function reads for several keys: their fields are compared as one
# object ("scenarios[].servers.edge" and "...platform" are both a server).
MERGED_PATHS = (
    (re.compile(r"\.servers\.(platform|edge|edge2|edge3)$"), ".servers.*"),
    (re.compile(r"\.expect\.(platform|edge|edge2|edge3)$"), ".expect.*"),
    (re.compile(r"\.legacy_allowlist(?=\.|$)"), ".allowlist"),
)

# How deep the schema walk goes: the schemas are not recursive; this bounds a mistake.
MAX_SCHEMA_DEPTH = 40


def schema_path(root, kind):
    return root / "schemas" / (kind + ".schema.json")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def tree_files(root):
    """(kind, path) of every data file of the tree."""
    out = []
    for path in sorted((root / "scenarios").rglob("*.json")):
        out.append(("clauses" if path.name == "clauses.json" else "scenario-file", path))
    for folder in ("harness/targets", "tests/independent", "schemas/examples"):
        for path in sorted((root / folder).glob("*.json")):
            kind = "deviations" if path.name.endswith(".deviations.json") else "target-descriptor"
            out.append((kind, path))
    return out


def fixture_files(root):
    """(kind, path) of the fuzz seeds: the ones the loader accepts are meant to be valid."""
    out = []
    for folder, kind in (("scenario_file", "scenario-file"),
                         ("target_descriptor", "target-descriptor")):
        for path in sorted((root / "fuzz" / "corpus" / folder).glob("*.json")):
            out.append((kind, path))
    return out


def run_schema_fields(program, root, files):
    """Loads `files` ((kind, path), deviations files left out) with the suite's loaders."""
    args = [str(program), str(root)]
    args += ["%s:%s" % (kind, path) for kind, path in files if kind != "deviations"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit("schema_fields failed (%d): %s" % (done.returncode, done.stderr.strip()))
    return json.loads(done.stdout)


def merged(path):
    for pattern, replacement in MERGED_PATHS:
        path = pattern.sub(replacement, path)
    return path


def join(path, key):
    return key if not path else path + "." + key


def resolve(schema, node):
    """Follows a local "$ref" ("#/$defs/name") of `node`, once."""
    ref = node.get("$ref")
    if ref is None:
        return node
    if not ref.startswith("#/"):
        raise SystemExit("only local $ref are supported: " + ref)
    target = schema
    for part in ref[2:].split("/"):
        target = target[part]
    return target


def schema_fields(schema):
    """Object path -> the property names the schema describes there (merged paths joined)."""
    out = {}
    stack = [(schema, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        if depth > MAX_SCHEMA_DEPTH:
            raise SystemExit("schema nests deeper than %d at %s" % (MAX_SCHEMA_DEPTH, path))
        if "$ref" in node:
            stack.append((resolve(schema, node), path, depth + 1))
        if "properties" in node:
            out.setdefault(merged(path), set()).update(node["properties"])
            for key, child in node["properties"].items():
                stack.append((child, join(path, key), depth + 1))
        if isinstance(node.get("items"), dict):
            stack.append((node["items"], path + "[]", depth + 1))
        for combinator in ("oneOf", "anyOf", "allOf"):
            for child in node.get(combinator, []):
                stack.append((child, path, depth + 1))
    return out


def loader_fields(recorded):
    """Object path -> the keys the loaders asked for (merged paths joined)."""
    out = {}
    for path, keys in recorded.items():
        out.setdefault(merged(path), set()).update(keys)
    return out


def compare_fields(kind, accepted, described):
    """Problems between the loader's fields and the schema's properties, both ways."""
    problems = []
    for path in sorted(set(accepted) | set(described)):
        shown = path or "(top level)"
        if path not in described:
            problems.append("%s: %s: the loader reads an object here the schema does not "
                            "describe (keys %s)" % (kind, shown, ", ".join(sorted(accepted[path]))))
            continue
        if path not in accepted:
            problems.append("%s: %s: the schema describes an object no loaded file reached "
                            "(add a fixture that uses it)" % (kind, shown))
            continue
        for key in sorted(accepted[path] - described[path]):
            problems.append("%s: %s.%s: the loader accepts it, the schema does not describe it"
                            % (kind, shown, key))
        for key in sorted(described[path] - accepted[path]):
            problems.append("%s: %s.%s: the schema describes it, the loader does not accept it"
                            % (kind, shown, key))
    return problems


def validation_problems(schema, document, name):
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "".join("[%d]" % p if isinstance(p, int) else "." + p for p in error.absolute_path)
        out.append("%s: %s: %s" % (name, where.lstrip(".") or "(top level)", error.message))
    return out


def check(root, program):
    """Every check of the module docstring; returns the list of problems."""
    problems = []
    schemas = {}
    for kind in KINDS + (REPORT_KIND,):
        path = schema_path(root, kind)
        schemas[kind] = load_json(path)
        try:
            jsonschema.Draft202012Validator.check_schema(schemas[kind])
        except jsonschema.exceptions.SchemaError as error:
            problems.append("%s: not a valid schema: %s" % (path, error.message))
    tree = tree_files(root)
    fixtures = fixture_files(root)
    result = run_schema_fields(program, root, tree + fixtures)
    loaded = {pathlib.Path(entry["file"]): entry for entry in result["loaded"]}
    for kind, path in tree:
        name = str(path.relative_to(root))
        entry = loaded.get(path)
        if entry is not None and not entry["ok"]:
            problems.append("%s: does not load: %s" % (name, entry["error"]))
        document = load_json(path)
        link = document.get("$schema") if isinstance(document, dict) else None
        if link is None:
            problems.append("%s: $schema: missing (want the path of schemas/%s.schema.json)"
                            % (name, kind))
        elif (path.parent / link).resolve() != schema_path(root, kind).resolve():
            problems.append("%s: $schema: \"%s\" is not schemas/%s.schema.json" % (name, link, kind))
        if not isinstance(document, dict) or "version" not in document:
            problems.append("%s: version: missing" % name)
        problems += validation_problems(schemas[kind], document, name)
    for kind, path in fixtures:
        if loaded[path]["ok"]:
            problems += validation_problems(schemas[kind], load_json(path),
                                            str(path.relative_to(root)))
    for kind in KINDS:
        problems += compare_fields(kind, loader_fields(result["fields"].get(kind, {})),
                                   schema_fields(schemas[kind]))
    return problems


def self_test(root, program):
    """Shows that each check can fail: returns the checks that did not."""
    missed = []
    tree = tree_files(root)
    result = run_schema_fields(program, root, tree + fixture_files(root))
    for kind in KINDS:
        schema = load_json(schema_path(root, kind))
        accepted = loader_fields(result["fields"].get(kind, {}))
        described = schema_fields(schema)
        if compare_fields(kind, accepted, described):
            missed.append("%s: the real field lists differ (run the check itself)" % kind)
        # A field added to the loader but not to the schema.
        more = copy.deepcopy(accepted)
        more[""].add("self_test_field")
        found = compare_fields(kind, more, described)
        if not any("self_test_field: the loader accepts it" in p for p in found):
            missed.append("%s: a field only the loader knows went unnoticed" % kind)
        # A property added to the schema but not to the loader.
        wider = copy.deepcopy(schema)
        wider["properties"]["self_test_field"] = {"type": "string"}
        found = compare_fields(kind, accepted, schema_fields(wider))
        if not any("self_test_field: the schema describes it" in p for p in found):
            missed.append("%s: a property only the schema knows went unnoticed" % kind)
        # A data file with an unknown key does not validate.
        document = next(load_json(p) for k, p in tree if k == kind)
        document["self_test_field"] = 1
        if not validation_problems(schema, document, kind):
            missed.append("%s: an unknown key validated" % kind)
    # A nested field: a new key of a server object (scenario files).
    accepted = loader_fields(result["fields"]["scenario-file"])
    accepted["scenarios[].servers.*"].add("self_test_field")
    found = compare_fields("scenario-file", accepted,
                           schema_fields(load_json(schema_path(root, "scenario-file"))))
    if not any("servers.*.self_test_field" in p for p in found):
        missed.append("scenario-file: a new server field went unnoticed")
    return missed


def check_report(root, report):
    schema = load_json(schema_path(root, REPORT_KIND))
    jsonschema.Draft202012Validator.check_schema(schema)
    return validation_problems(schema, load_json(report), str(report))


# The scenarios --run-report runs against the reference EMS: accepted, rejected, exited.
REPORT_FILTERS = ("match/*", "enable/*")


def run_report(root, fpconform):
    """Runs REPORT_FILTERS with --json and validates the report; returns the problems."""
    with tempfile.TemporaryDirectory(prefix="fpconform-schemas-") as work:
        report = pathlib.Path(work) / "report.json"
        args = [str(fpconform), "run", "--target", "reference-ems", "--jobs", "2",
                "--json", str(report)]
        for pattern in REPORT_FILTERS:
            args += ["--filter", pattern]
        done = subprocess.run(args, capture_output=True, text=True, timeout=280, check=False)
        if not report.exists():
            return ["fpconform run wrote no report (exit %d): %s"
                    % (done.returncode, done.stderr.strip()[-500:])]
        problems = check_report(root, report)
        if not load_json(report)["results"]:
            problems.append("the report holds no result")
        return problems


def main(argv):
    if len(argv) == 4 and argv[1] == "--self-test":
        missed = self_test(pathlib.Path(argv[2]).resolve(), pathlib.Path(argv[3]))
        for line in missed:
            print("self-test: " + line)
        print("self-test: %s" % ("FAILED" if missed else "every check fails when it should"))
        return 1 if missed else 0
    if len(argv) == 4 and argv[1] == "--report":
        problems = check_report(pathlib.Path(argv[3]).resolve(), pathlib.Path(argv[2]))
    elif len(argv) == 4 and argv[1] == "--run-report":
        problems = run_report(pathlib.Path(argv[2]).resolve(), pathlib.Path(argv[3]))
    elif len(argv) == 3:
        problems = check(pathlib.Path(argv[1]).resolve(), pathlib.Path(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    print("%d problem(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
