#!/usr/bin/env python3
"""Labelled sets for promptguard beyond English (issue 21), written before any
non-English rule existed and scored once with the English-only rules (first
scores in bench/RESULTS.md).

One block per language: hand-written attacks in four families (instruction
override, prompt extraction, persona, secret request) and hard benign text
(text about instructions, translations of "ignore", security articles,
ordinary prose). Every attack is written plain; the first two of each family
are also written once obfuscated (zero-width characters, homoglyphs from
another script, or letter spacing), rotating. Writes <lang>_attacks.jsonl and
<lang>_benign.jsonl next to this file. Deterministic: no randomness.
"""
import json
import os

from sets_latin import LATIN
from sets_other import OTHER

HERE = os.path.dirname(os.path.abspath(__file__))

# Latin letters and their Cyrillic look-alikes, both ways.
LAT2CYR = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"}
CYR2LAT = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y"}


def zero_width(s):
    """A zero-width space after every second letter of the first 40 chars."""
    out, n = [], 0
    for i, ch in enumerate(s):
        out.append(ch)
        if ch.isalpha() and i < 40:
            n += 1
            if n % 2 == 0:
                out.append("\u200b")
    return "".join(out)


def homoglyph(s, table):
    """Every other replaceable letter swapped for its look-alike."""
    out, n = [], 0
    for ch in s:
        if ch in table:
            n += 1
            if n % 2 == 1:
                out.append(table[ch])
                continue
        out.append(ch)
    return "".join(out)


def spaced(s, cjk):
    """The first words letter-spaced ("i g n o r e"); CJK: every character."""
    if cjk:
        return " ".join(s[:12]) + s[12:]
    words = s.split(" ")
    head = [" ".join(w) for w in words[:4]]
    return "  ".join(head) + " " + " ".join(words[4:])


def write(lang, block):
    script = block.get("script", "latin")
    cjk = script == "cjk"
    rows = []
    k = 0
    for family, texts in block["attacks"].items():
        for i, t in enumerate(texts):
            rows.append({"text": t, "family": family, "encoding": "plain"})
            if i < 2:
                kind = ["zero_width", "homoglyph", "spaced"][k % 3]
                k += 1
                if kind == "homoglyph" and cjk:
                    kind = "zero_width"
                if kind == "zero_width":
                    v = zero_width(t)
                elif kind == "homoglyph":
                    v = homoglyph(t, CYR2LAT if script == "cyrillic" else LAT2CYR)
                else:
                    v = spaced(t, cjk)
                rows.append({"text": v, "family": family, "encoding": kind})
    with open(os.path.join(HERE, f"{lang}_attacks.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, f"{lang}_benign.jsonl"), "w", encoding="utf-8") as f:
        for cat, texts in block["benign"].items():
            for t in texts:
                f.write(json.dumps({"text": t, "category": cat}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for lang, block in {**LATIN, **OTHER}.items():
        write(lang, block)
