#!/usr/bin/env python3
"""Copies the Docker build context of deploy/Dockerfile (the repository's files that
.dockerignore lets through) to DEST, so that deploy/check can replay the image's two Cargo
builds on exactly what the image is built from.

.dockerignore here is a list of patterns where a later one wins and `!` lets a path back in;
a pattern matches a path or any of its parent directories."""

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path


def patterns(root: Path) -> list[tuple[bool, str]]:
    rules = []
    for line in (root / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, line.lstrip("!").strip("/")))
    return rules


def sent(path: str, rules: list[tuple[bool, str]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = True
    for keep, pattern in rules:
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            result = keep
    return result


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    dest = Path(sys.argv[1])
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    rules = patterns(root)
    for f in files:
        if sent(f, rules) and (root / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / f, dest / f)


if __name__ == "__main__":
    main()
