#!/usr/bin/env python3
"""Checks the relative links and `#anchors` in README.md and docs/**/*.md.

    python3 docs/check-links.py        # from the repository root; exit status 1 on a broken link

A link is broken when its file does not exist or its `#anchor` is not a heading of that file.
Anchors are made from headings the way GitHub makes them: lower case, punctuation dropped
(backticks and dashes in words kept as text), spaces turned into hyphens, and `-1`, `-2`, …
added to repeats. Links to other sites (`https://…`, `mailto:`) are not checked. Not run by CI.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def slug(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = CODE_SPAN.sub(lambda m: m.group(2), text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def lines_outside_fences(path: pathlib.Path):
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def anchors(path: pathlib.Path) -> set:
    seen: dict = {}
    found = set()
    for _, line in lines_outside_fences(path):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        for explicit in re.findall(r'<a\s+(?:id|name)="([^"]+)"', line):
            found.add(explicit)
    return found


def main() -> int:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    cache: dict = {}
    broken = 0
    checked = 0
    for source in files:
        for number, line in lines_outside_fences(source):
            for target in LINK.findall(CODE_SPAN.sub("", line)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                checked += 1
                file_part, _, anchor = target.partition("#")
                resolved = (source.parent / file_part).resolve() if file_part else source
                where = f"{source.relative_to(ROOT)}:{number}: {target}"
                if not resolved.exists():
                    print(f"{where}: no such file")
                    broken += 1
                    continue
                if anchor:
                    if resolved.suffix != ".md":
                        print(f"{where}: an anchor into a file that is not Markdown")
                        broken += 1
                        continue
                    if resolved not in cache:
                        cache[resolved] = anchors(resolved)
                    if anchor not in cache[resolved]:
                        print(f"{where}: no heading makes #{anchor}")
                        broken += 1
    print(f"{checked} relative links checked in {len(files)} files, {broken} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
