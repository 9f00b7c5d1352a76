#!/usr/bin/env python3
"""Checks that every relative link of every Markdown file resolves to an existing file.

  check-links.py SOURCE_DIR      exit 0 when every link resolves, 1 otherwise (one line each)
  check-links.py --self-test     shows that a dead link is found and a good one is not

Links are inline Markdown links, [text](target) and ![alt](target), outside fenced code
blocks and code spans. A target with a scheme (https:, mailto:) or only an anchor (#part)
is not checked; an anchor after a path is dropped. A Markdown file named in a code span
(`harness/PORTING.md`) must exist too, relative to the file's folder or to one of its
parents up to SOURCE_DIR. Build directories and hidden folders are skipped.
"""

import pathlib
import re
import sys
import tempfile

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`[^`]*`")
NAMED_DOC = re.compile(r"`([^`\s*]+\.md)(?:#[^`]*)?`")
SKIPPED_DIRS = ("build", "node_modules")


def markdown_files(root):
    for path in sorted(root.rglob("*.md")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p.startswith(SKIPPED_DIRS) for p in parts[:-1]):
            continue
        yield path


def dead_links(root):
    problems = []
    for path in markdown_files(root):
        fenced = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
                continue
            if fenced:
                continue
            for match in NAMED_DOC.finditer(line):
                name = match.group(1)
                folders = [path.parent] + [p for p in path.parent.parents
                                           if p == root or root in p.parents]
                if not any((folder / name).exists() for folder in folders):
                    problems.append("%s:%d: names a missing file %s"
                                    % (path.relative_to(root), number, name))
            for match in LINK.finditer(CODE_SPAN.sub("", line)):
                target = match.group(1)
                if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
                    continue
                file_part = target.split("#", 1)[0]
                resolved = (root / file_part.lstrip("/")) if file_part.startswith("/") \
                    else (path.parent / file_part)
                if not resolved.exists():
                    problems.append("%s:%d: dead link %s" % (path.relative_to(root), number,
                                                              target))
    return problems


def self_test():
    with tempfile.TemporaryDirectory(prefix="fpconform-links-") as work:
        root = pathlib.Path(work)
        (root / "docs").mkdir()
        (root / "docs" / "a.md").write_text(
            "[up](../README.md) [web](https://example.org) [anchor](#x)\n"
            "`[in code](missing-in-code.md)`\n```\n[fenced](missing-fenced.md)\n```\n"
            "[gone](missing.md#part) ![image](pic.png)\n"
            "`README.md` `docs/a.md` `GONE.md`\n")
        (root / "README.md").write_text("[docs](docs/a.md#top) [dir](docs)\n")
        found = dead_links(root)
        want = ["docs/a.md:6: dead link missing.md#part", "docs/a.md:6: dead link pic.png",
                "docs/a.md:7: names a missing file GONE.md"]
        if found != want:
            print("self-test: found %s, want %s" % (found, want))
            return 1
    print("self-test: dead links are found, good ones are not")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = dead_links(pathlib.Path(argv[1]).resolve())
    for line in problems:
        print(line)
    print("%d dead link(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
