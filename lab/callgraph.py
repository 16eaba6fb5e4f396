#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""callgraph.py [DIR]: the references between the files of mm/ksm/.

Prints "a.c -> b.c: names" for each file that uses a function or variable
defined (not static) in another, then the files in layer order, bottom
first.  Exits 1 if the references form a cycle: the layers of mm/ksm/
(Documentation/mm/ksm.rst) allow calls in one direction only.
"""
import glob
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else "mm/ksm"
files = sorted(glob.glob(os.path.join(top, "*.c")))
uncomment = lambda s: re.sub(r"/\*.*?\*/", "", s, flags=re.S)
defs = {}
for f in files:
    s = uncomment(open(f).read())
    for m in re.finditer(r"^(?!static)[a-z][^\n;=]*?\b(\w+)\(", s, re.M):
        defs.setdefault(m.group(1), f)
    for m in re.finditer(r"^(?:DEFINE_MUTEX|DEFINE_SPINLOCK|DECLARE_WAIT_QUEUE_HEAD)"
                         r"\((\w+)\)", s, re.M):
        defs[m.group(1)] = f
    for m in re.finditer(r"^(?!static|extern)(?:unsigned |struct |bool |int |u32 )"
                         r"[^\n(]*?\b(\w+)(?:\s*__\w+)?\s*(?:=[^;]*)?;", s, re.M):
        defs.setdefault(m.group(1), f)
edges = {}
for f in files:
    s = uncomment(open(f).read())
    for name, df in defs.items():
        if df != f and re.search(r"\b" + name + r"\b", s):
            edges.setdefault(f, {}).setdefault(df, []).append(name)
base = os.path.basename
for a in sorted(edges):
    for b in sorted(edges[a]):
        print(f"{base(a)} -> {base(b)}: {' '.join(sorted(edges[a][b]))}")
# Layers: repeatedly take the files that use no file not yet taken.
order, left = [], set(files)
while left:
    ready = sorted(f for f in left if not (set(edges.get(f, {})) & left))
    if not ready:
        print("cycle among: " + " ".join(base(f) for f in sorted(left)))
        sys.exit(1)
    order.append(ready)
    left -= set(ready)
print("layers, bottom first: " + " | ".join(" ".join(base(f) for f in l) for l in order))
