"""Regenerate examples/corpus.jsonl from CPython's pydoc_data.topics.

The corpus of the RAG demo is the Python language reference as `help()`
shows it (pydoc_data.topics, PSF-2.0, see LICENSE-Python.txt): its prose
paragraphs, grammar and code blocks left out. Each passage's id is the topic
and the paragraph's number in it ("for-3"), so ids are readable and stay the
same as long as the Python release is the same (made with CPython 3.11.7).

Usage: python examples/gen_corpus.py [--max-per-topic N] [--out examples/corpus.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import sysconfig
from pathlib import Path

from pydoc_data.topics import topics

MIN_WORDS = 20
MAX_WORDS = 170
HEADING_RULE = re.compile(r"^[*=\-^~\"]{3,}$")


def paragraphs(text: str) -> list[str]:
    """The topic's prose paragraphs, each on one line."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.split("\n")
        if any(HEADING_RULE.match(line.strip()) for line in lines):
            continue  # a heading
        if lines[0].startswith("   ") or lines[0].lstrip().startswith((">>>", "...")):
            continue  # grammar, code or an indented table
        if any(line.lstrip().startswith(("+--", "| ", "===")) for line in lines):
            continue  # a table
        para = ""
        for line in (line.strip() for line in lines if line.strip()):
            # a word hyphenated at the wrap ("built-" / "in") joins without a space
            para += line if para.endswith("-") or not para else " " + line
        words = len(para.split())
        if MIN_WORDS <= words <= MAX_WORDS and para.endswith("."):
            out.append(para)
    return out


def title(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = Path(__file__).resolve().parent
    ap.add_argument("--max-per-topic", type=int, default=16)
    ap.add_argument("--out", type=Path, default=here / "corpus.jsonl")
    args = ap.parse_args()
    n = 0
    seen: set[str] = set()  # some topics repeat others' paragraphs: each text once
    with args.out.open("w", encoding="utf-8") as f:
        for topic in sorted(topics):
            fresh = [p for p in paragraphs(topics[topic]) if p not in seen]
            seen.update(fresh)
            for i, para in enumerate(fresh[: args.max_per_topic], 1):
                rec = {"id": f"{topic}-{i}", "title": title(topics[topic]), "text": para}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
    licence = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    shutil.copyfile(licence, args.out.parent / "LICENSE-Python.txt")
    print(f"{n} passages from Python {sys.version.split()[0]} -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
