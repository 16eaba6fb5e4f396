#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""profile-report.py SYSTEM.MAP TAP [TOP]: resolve the "prof:" lines that
lab/guest/ksm_prof.c printed into TAP (one block per workload run) against
the kernel's System.map, and print each workload's top kernel functions
and the share of KSM's own code in its samples."""
import bisect
import collections
import re
import sys

smap, tap = sys.argv[1:3]
top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
syms = []
for line in open(smap):
    addr, kind, name = line.split()[:3]
    if kind in "tTwW":
        syms.append((int(addr, 16), name))
syms.sort()
addrs = [a for a, _ in syms]
stext = next(a for a, n in syms if n == "_stext")
# Functions of KSM itself: ours (mm/ksm/) and 6.1's mm/ksm.c.
KSM = re.compile(r"^(ksm_|__ksm|rmap_walk_ksm|folio_migrate_ksm|break_ksm|"
                 r"cmp_and_merge_page|stable_tree_|unstable_tree_|try_to_merge|"
                 r"remove_rmap_item|remove_node_from|get_ksm_page|remove_stable|"
                 r"write_protect_page|replace_page|scan_get_next|calc_checksum|"
                 r"get_next_rmap_item|unmerge_ksm|stable_node_|__stable_node|"
                 r"chain_prune|chain$|try_to_merge_with_ksm_page|"
                 r"remove_trailing_rmap|ksm_do_scan|ksm_scan_thread)")

runs, name, step, hits = [], None, None, None
for raw in open(tap, errors="replace"):
    line = raw.strip("\r\n")
    m = re.match(r"# running (.*) \(limit", line)
    if m:
        name, hits = m.group(1), collections.Counter()
        runs.append((name, hits))
        continue
    m = re.match(r"\s*prof: (step )?(\d+)(?: (\d+))?$", line)
    if not m or hits is None:
        continue
    if m.group(1):
        step = int(m.group(2))
        continue
    pc = stext + int(m.group(2)) * step
    i = bisect.bisect_right(addrs, pc) - 1
    hits[syms[i][1] if i >= 0 else "?"] += int(m.group(3))

for name, hits in runs:
    total = sum(hits.values())
    if not total:
        continue
    ksm = sum(n for f, n in hits.items() if KSM.match(f))
    print("== %s: %d kernel samples, KSM's own functions %.1f%%" %
          (name, total, 100.0 * ksm / total))
    for f, n in hits.most_common(top):
        print("   %-36s %7d %5.1f%%%s" % (f, n, 100.0 * n / total,
                                         "  (KSM)" if KSM.match(f) else ""))
