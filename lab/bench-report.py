#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's report (lab/bench.sh): the results of every boot, their
medians for each kernel, ours against each stock kernel and the targets;
the table to the terminal and build/reports/bench.txt, everything to
build/reports/bench.json.  Exit status 1 when a workload of a run failed.

usage: bench-report.py REPORTS MODE REPEATS WALL_S "KERNEL=VERSION ..." \\
                       KERNEL:RUN:REPORT...
"""
import json
import math
import os
import re
import statistics
import sys

# The kernels ours is held against, in the order of the table's columns.
STOCKS = (("stock", "6.1"), ("stock612", "6.12"))

# key, label, unit, better, target against 6.1, target against 6.12
# (ours/stock; None: none)
METRICS = [
    # 10: what a host gets for the CPU it gives ksmd (the headline).
    ("vm_cpu_to_90pct_s", "10 VM-like: ksmd CPU-s to 90% of the savings", "s", "lower", 0.4, 0.6),
    ("vm_wall_to_90pct_s", "10 VM-like: wall time to 90% of the savings", "s", "lower", None, None),
    ("vm_cpu_to_full_s", "10 VM-like: ksmd CPU-s to all of the savings", "s", "lower", None, None),
    ("vm_steady_ksmd_cpu_pct", "10 VM-like: ksmd CPU once there", "%", "lower", None, None),
    ("vm_saved_mib", "10 VM-like: savings the data allows", "MiB", "higher", None, None),
    ("merge_wall_s", "1 merge: wall time to full merge", "s", "lower", 0.5, 0.5),
    ("merge_ksmd_cpu_s", "1 merge: ksmd CPU to full merge", "s", "lower", None, None),
    ("scan_pages_per_cpu_s", "2 scan: pages scanned per ksmd CPU-s", "pages/s", "higher", 4.0, 3.0),
    ("scan_cpu_per_full_scan_s", "2 scan: ksmd CPU per full scan", "s", "lower", None, None),
    ("scan_wall_per_full_scan_s", "2 scan: wall time per full scan", "s", "lower", None, None),
    ("scan_user_xxh64_page_ns", "2 scan: xxh64 of a page, in user space", "ns", "lower", None, None),
    ("scan_cpu_per_page_over_xxh64", "2 scan: ksmd CPU per page / that xxh64", "x", "lower", None, None),
    ("scan_user_sample_page_ns", "2 scan: ksmd's sample of a page, in user space", "ns", "lower", None, None),
    ("scan_sample_over_xxh64", "2 scan: that sample / xxh64 of the page", "x", "lower", None, None),
    ("cow_fault_us", "3 COW: first write to merged page, median", "us", "lower", 1.0, 1.0),
    ("unmerge_s", "4 unmerge: MADV_UNMERGEABLE", "s", "lower", 1.0, 1.0),
    ("meta_bytes_per_registered_page", "5 metadata per registered page (slabs)", "B", "lower", 0.7, 0.7),
    ("meta_bytes_per_merged_page", "5 metadata per merged page (slabs)", "B", "lower", None, None),
    ("meta_rmap_item_bytes", "5   of which ksm_rmap_item, in all", "B", "lower", None, None),
    ("meta_stable_node_bytes", "5   of which ksm_stable_node, in all", "B", "lower", None, None),
    ("meta_mm_slot_bytes", "5   of which ksm_mm_slot, in all", "B", "lower", None, None),
    ("meta_unstable_table_kib", "5 unstable hash table (sized for the items)", "KiB", "lower", None, None),
    ("meta_bytes_per_registered_page_incl_table", "5 metadata per registered page + table", "B", "lower", None, None),
    ("steady_ksmd_cpu_pct", "6 steady state: ksmd CPU", "%", "lower", 0.5, 0.7),
    ("steady_full_scans_per_min", "6 steady state: full scans per minute", "1/min", "higher", None, None),
    # 8: smart scan's case (6.1 has none, 6.12 has it on by default): idle
    # memory for less CPU, with the merges of new copies found no later.
    ("idle_ksmd_cpu_pct", "8 idle memory: ksmd CPU", "%", "lower", 0.2, 0.5),
    ("idle_full_scans_per_min", "8 idle memory: full scans per minute", "1/min", "higher", None, None),
    ("idle_copy_merge_s", "8 idle memory: new copies merged after", "s", "lower", 1.0, 1.0),
    ("idle_copies_merged_pct", "8 idle memory: copies merged within 120 s", "%", "higher", None, None),
    ("scale_memory_cost_ratio", "11 scale: cost per page, 16x memory / 1x", "x", "lower", None, None),
    ("scale_procs_cost_ratio", "11 scale: cost per page, 512 procs / 1", "x", "lower", None, None),
    ("sparse_dense_wall_per_full_scan_s", "12 sparse: full scan, dense", "s", "lower", None, None),
    ("sparse_wall_per_full_scan_s", "12 sparse: full scan, same pages sparse", "s", "lower", None, None),
    ("sparse_over_dense_wall", "12 sparse: sparse / dense, wall", "x", "lower", None, None),
    ("sparse_over_dense_cpu", "12 sparse: sparse / dense, ksmd CPU", "x", "lower", None, None),
    ("phases_total_s", "13 phases: many sharers of few contents", "s", "lower", 0.7, 0.7),
    ("phases_after_writes_s", "13 phases: the same, from the end of writes", "s", "lower", None, None),
]
# Targets on ours alone (absolute): key -> bound (same sense as the metric).
ABSOLUTE = {"scale_memory_cost_ratio": 1.3, "scale_procs_cost_ratio": 1.3,
            "scan_cpu_per_page_over_xxh64": 1.5}
# 7: what the processes around ksmd wait while it scans flat out.
# mprotect (of the MADV_UNMERGEABLE process's pages, changing nothing) is
# the wait for the mmap_lock alone: shown, with no target of its own.
for _k, _what, _target in (("fault", "first-touch fault", 1.0),
                           ("mmap", "mmap or munmap", 1.0),
                           ("mprotect", "mprotect, no change", None),
                           ("unmerge", "MADV_UNMERGEABLE", 1.0),
                           ("exit", "exit of a KSM user", 1.0)):
    for _q, _t in (("p50", None), ("p99", _target), ("max", _target)):
        METRICS.append((f"latency_{_k}_{_q}_us", f"7 latency: {_what}, {_q}", "us",
                        "lower", _t, _t))
# The same, of the samples taken while no worker wrote (ksm_bench.c
# lat_begin()): ksmd's scan alone, without the workers' faults on merged
# pages, which hold the mmap_lock on 6.1 and not on 6.12.  Shown only.
for _k, _what in (("fault", "first-touch fault"), ("mmap", "mmap or munmap"),
                  ("mprotect", "mprotect, no change"), ("unmerge", "MADV_UNMERGEABLE"),
                  ("exit", "exit of a KSM user")):
    for _q in ("p99", "max"):
        METRICS.append((f"latency_{_k}_quiet_{_q}_us",
                        f"7 no writes: {_what}, {_q}", "us", "lower", None, None))
WORKLOAD = {"merge": "merge", "meta": "merge", "scan": "scan", "cow": "cow",
            "unmerge": "unmerge", "steady": "steady", "latency": "latency",
            "idle": "idle", "domains": "domains", "vm": "vm", "scale": "scale",
            "sparse": "sparse", "phases": "phases", "shape": "shapes"}
# 14: the merge, COW and unmerge workloads again at several shapes (ksm_bench
# shapes): (shape, what it changes), then (metric, label, unit, target
# against either stock).  A target holds only if it holds on every shape.
SHAPES = [("base", "4 processes, 64 contents, pages_to_scan 16384"),
          ("procs1", "1 process"), ("procs64", "64 processes"),
          ("rate100", "pages_to_scan 100"), ("contents4", "4 contents"),
          ("contentsmany", "a content for every 4 pages")]
SHAPE_METRICS = [("merge_wall_s", "merge: wall time", "s", 0.5),
                 ("cow_fault_us", "COW: first write, median", "us", 1.0),
                 ("unmerge_s", "unmerge: MADV_UNMERGEABLE", "s", 1.0)]
SHAPE_KEYS = [f"shape_{sh}_{m}" for sh, _ in SHAPES for m, *_ in SHAPE_METRICS]
# BENCH_WORKLOADS (lab/bench.sh): the workloads that ran; empty: all.
SELECTED = set(os.environ.get("BENCH_WORKLOADS", "").split())
# 9: merge domains, ours only (the stock kernels have none): merge_domain
# memcg against global in the same boots, target memcg/global; and a mixed
# host's saving per tenant.  (label, global key, memcg key, unit, target)
DOMAIN_PAIRS = [
    ("9 domains: merge, wall time to full merge", "domains_global_merge_wall_s",
     "domains_memcg_merge_wall_s", "s", 1.1),
    ("9 domains: merge, ksmd CPU to full merge", "domains_global_merge_ksmd_cpu_s",
     "domains_memcg_merge_ksmd_cpu_s", "s", 1.1),
    ("9 domains: scan, ksmd CPU per full scan", "domains_global_scan_cpu_per_full_scan_s",
     "domains_memcg_scan_cpu_per_full_scan_s", "s", 1.1),
]
DOMAIN_KEYS = [k for _, g, m, _, _ in DOMAIN_PAIRS for k in (g, m)] + [
    "domains_tenant0_saved_mib", "domains_tenant1_saved_mib", "domains_tenant2_saved_mib",
    "domains_mixed_saved_mib", "domains_mixed_global_would_save_mib",
    "domains_mixed_merge_wall_s"]


def read_run(reports, kernel, rep):
    """The results of one boot: {key: value}, {workload: why it failed},
    {curve: [(x, y...)]}."""
    tap = open(f"{reports}/{rep}.tap", errors="replace").read().replace("\r", "")
    status, why, many, curves = {}, {}, {}, {}
    for line in tap.splitlines():
        m = re.match(r"    bench: curve (\S+) (.*)$", line)
        if m:
            curves.setdefault(m.group(1), []).append([float(x) for x in m.group(2).split()])
        m = re.match(r"    bench: result (\S+) (\S+)$", line)
        if m:
            many.setdefault(m.group(1), []).append(float(m.group(2)))
        m = re.match(r"(ok|not ok) \d+ bench(?:-quick)?(?:-\w+)?: (\w+)(.*)", line)
        if m:
            status[m.group(2)] = m.group(1) == "ok"
            if m.group(1) != "ok":
                why.setdefault(m.group(2), m.group(3).strip(" #"))
        m = re.match(r"    bench: FAIL (\w+): (.*)", line)
        if m:
            why[m.group(1)] = m.group(2)
    # A key reported several times in a boot (workload 9's rounds): its median.
    res = {k: statistics.median(v) for k, v in many.items()}
    guest = re.search(r"^lab: guest failed: (.*)", tap, re.M)
    try:
        summary = open(f"{reports}/{rep}.summary").read()
    except OSError:
        summary = ""
    kbad = re.search(r"^FAIL  (kernel log: .*)", summary, re.M)
    # Ours sizes its unstable table for the rmap items there are (one per
    # registered page once scanned): 2^clamp(order_base_2(items / 2 + 1),
    # 10, 30) hlist heads of 8 bytes (mm/ksm/unstable.c).  The stock
    # kernels have none.
    if "merge_wall_s" in res:
        items = int(res["registered_pages"])
        bits = min(max((items // 2).bit_length(), 10), 30)
        table = (1 << bits) * 8 if kernel == "ours" else 0
        res["meta_unstable_table_kib"] = table / 1024
        res["meta_bytes_per_registered_page_incl_table"] = \
            res["meta_bytes_per_registered_page"] + table / res["registered_pages"]
    failed = {}
    for w in sorted(set(WORKLOAD.values())):
        if SELECTED and w not in SELECTED:
            continue
        if kbad:
            failed[w] = kbad.group(1)
        elif w not in status:
            failed[w] = "did not run" + (f" ({guest.group(1)})" if guest else "")
        elif not status[w]:
            failed[w] = why.get(w, "failed")
    return ({k: v for k, v in res.items() if workload_of_known(k) not in failed}, failed,
            {c: v for c, v in curves.items() if c not in failed})


def workload_of_known(key):
    return WORKLOAD.get(key.split("_")[0])


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def fmt(x):
    if x is None:
        return "FAILED"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.{max(0, 3 - int(math.floor(math.log10(abs(x)))))}f}"


def main():
    reports, mode, repeats, wall, versions = sys.argv[1:6]
    runs = [a.split(":") for a in sys.argv[6:]]
    version = dict(v.split("=") for v in versions.split())
    kernels = [k for k in ("stock", "stock612", "ours") if k in version]
    stocks = [(k, v) for k, v in STOCKS if k in version]

    values = {m[0]: {k: [] for k in kernels} for m in METRICS}
    values.update({k: {kk: [] for kk in kernels} for k in DOMAIN_KEYS + SHAPE_KEYS})
    failures, curves, results = [], {}, []
    for kernel, r, rep in runs:
        res, failed, cur = read_run(reports, kernel, rep)
        for c, points in cur.items():
            curves.setdefault(c, {}).setdefault(kernel, []).append(points)
        results.append((kernel, r, res, failed))
    # The points of the scale workload, named by their sizes.
    points = sorted({k for _, _, res, _ in results for k in res
                     if re.match(r"scale_\d+mib_\d+procs_ns_per_page$", k)},
                    key=lambda k: [int(x) for x in re.findall(r"\d+", k)][::-1])
    for k in points:
        mib, procs = re.findall(r"\d+", k)
        METRICS.insert(METRICS.index(next(m for m in METRICS
                                          if m[0] == "scale_memory_cost_ratio")),
                       (k, f"11 scale: {mib} MiB, {procs} process(es), per page",
                        "ns", "lower", None, None))
        values[k] = {kk: [] for kk in kernels}
    for kernel, r, res, failed in results:
        for w, why in failed.items():
            failures.append({"kernel": kernel, "run": int(r), "workload": w, "why": why})
        for key in values:
            values[key][kernel].append(res.get(key))
    scale = {k: {kk: med(v) for kk, v in values[k].items()} for k in points}

    out, metrics, met, ntargets = [], [], 0, 0
    out.append(f"make bench ({mode}): " +
               ", ".join(f"{k} Linux {version[k]}" for k in kernels) +
               f"; medians of {repeats} boot(s) of each kernel "
               f"(QEMU TCG, 2 CPUs, 2 GiB, 2 NUMA nodes), {wall}s")
    head = f"{'metric':44} {'unit':>7}" + "".join(
        f" {dict(STOCKS).get(k, k):>9}" for k in kernels) + "".join(
        f" {'ours/' + name:>10}" for _, name in stocks) + "  targets"
    out.append(head)
    out.append("-" * (len(head) + 30))
    for key, label, unit, better, *targets in METRICS:
        if SELECTED and workload_of_known(key) not in SELECTED:
            continue
        entry = {"metric": key, "label": label, "unit": unit, "better": better,
                 "runs": values[key]}
        meds = {k: med(values[key][k]) for k in kernels}
        entry.update(meds)
        line = f"{label:44} {unit:>7}" + "".join(f" {fmt(meds[k]):>9}" for k in kernels)
        tgts = []
        for (sk, name), target in zip(STOCKS, targets):
            if sk not in version:
                continue
            s, o = meds[sk], meds.get("ours")
            ratio = o / s if s and o is not None else None
            # Boots next to each other share the host's load: the median of
            # the per-round ratios (stock run N, ours run N) is less noisy on
            # a busy host.
            pairs = [b / a for a, b in zip(values[key][sk], values[key].get("ours", []))
                     if a and b is not None]
            paired = statistics.median(pairs) if pairs else None
            ok = None
            if target is not None:
                ntargets += 1
                if ratio is not None:
                    ok = ratio <= target if better == "lower" else ratio >= target
                    met += ok
                tgts.append(f"{name}: " + ("<=" if better == "lower" else ">=") +
                            f" {target} " + {True: "met", False: "NOT met",
                                              None: "not measured"}[ok])
            suffix = "" if sk == "stock" else "_612"
            entry.update({"ratio" + suffix: ratio, "paired_ratio" + suffix: paired,
                          "target" + suffix: target, "target_met" + suffix: ok})
            line += f" {(f'{ratio:.3f}' if ratio is not None else 'n/a'):>10}"
        if key in ABSOLUTE:
            bound, o = ABSOLUTE[key], meds.get("ours")
            ok = None if o is None else (o <= bound if better == "lower" else o >= bound)
            ntargets += 1
            met += bool(ok)
            tgts.append("ours: " + ("<=" if better == "lower" else ">=") + f" {bound} " +
                        {True: "met", False: "NOT met", None: "not measured"}[ok])
            entry.update({"target_abs": bound, "target_abs_met": ok})
        out.append((line + "  " + "; ".join(tgts)).rstrip())
        metrics.append(entry)

    if not SELECTED or "shapes" in SELECTED:
        m, n = shapes(out, metrics, values, kernels, stocks)
        met, ntargets = met + m, ntargets + n
    if not SELECTED or "domains" in SELECTED:
        out.append("")
        out.append(f"{'9 merge domains, ours only (stock has none)':44} {'unit':>7} {'global':>9} "
                   f"{'memcg':>9} {'memcg/gl.':>10}  target")
        for label, g, m, unit, target in DOMAIN_PAIRS:
            gv, mv = med(values[g].get("ours", [])), med(values[m].get("ours", []))
            ratio = mv / gv if gv and mv is not None else None
            ntargets += 1
            ok = ratio <= target if ratio is not None else None
            met += bool(ok)
            tgt = f"<= {target}  " + {True: "met", False: "NOT met", None: "not measured"}[ok]
            out.append(f"{label:44} {unit:>7} {fmt(gv):>9} {fmt(mv):>9} "
                       f"{(f'{ratio:.3f}' if ratio is not None else 'n/a'):>10}  {tgt}")
            metrics.append({"metric": m.replace("memcg_", "memcg_vs_global_"), "label": label,
                            "unit": unit, "better": "lower", "global": gv, "memcg": mv,
                            "ratio": ratio, "target": target, "target_met": ok,
                            "runs": {"global": values[g].get("ours"),
                                     "memcg": values[m].get("ours")}})
        for t, n in ((0, 4), (1, 2), (2, 1)):
            key = f"domains_tenant{t}_saved_mib"
            v = med(values[key].get("ours", []))
            out.append(f"{f'9 memcg: tenant{t} ({n} processes) saves':44} {'MiB':>7} {fmt(v):>9}")
            metrics.append({"metric": key, "unit": "MiB", "ours": v, "runs": values[key]})
        for key, label in (("domains_mixed_saved_mib", "9 mixed host: saved under memcg, in all"),
                           ("domains_mixed_global_would_save_mib", "9 mixed host: saved under global")):
            v = med(values[key].get("ours", []))
            out.append(f"{label:44} {'MiB':>7} {fmt(v):>9}")
            metrics.append({"metric": key, "unit": "MiB", "ours": v, "runs": values[key]})
    out.append(f"targets met: {met} of {ntargets} (ratios of the medians; bench.json also "
               f"has the paired ratios: the median of ours/stock of boots next to each other)")
    for f in failures:
        out.append(f"FAILED: {f['kernel']} run {f['run']}, {f['workload']}: {f['why']}")
    if not failures:
        out.append("every workload of every run merged what the data implies, contents intact")
    out.append(f"written: {reports}/bench.json")
    out.append(plot(reports, curves, scale, version))
    text = "\n".join(out)
    print(text)
    open(f"{reports}/bench.txt", "w").write(text + "\n")
    json.dump({"bench": mode, "linux": version.get("stock"), "kernels": version,
               "repeats": int(repeats), "wall_s": int(wall),
               "order": [f"{k}-{r}" for k, r, _ in runs],
               "targets_met": met, "targets": ntargets,
               "metrics": metrics, "failures": failures, "curves": curves},
              open(f"{reports}/bench.json", "w"), indent=2)
    return 1 if failures else 0


def shapes(out, metrics, values, kernels, stocks):
    """Workload 14: each shape's medians and ratios, then for each metric the
    spread of the ratios over the shapes and whether its target holds on
    every one.  Returns (targets met, targets)."""
    met = ntargets = 0
    out.append("")
    out.append(f"{'14 shapes: merge, COW, unmerge again':44} {'unit':>7}" +
               "".join(f" {dict(STOCKS).get(k, k):>9}" for k in kernels) +
               "".join(f" {'ours/' + name:>10}" for _, name in stocks))
    for sh, what in SHAPES:
        out.append(f"   {sh}: {what}")
        for m, label, unit, _ in SHAPE_METRICS:
            key = f"shape_{sh}_{m}"
            meds = {k: med(values[key][k]) for k in kernels}
            line = f"{'14   ' + label:44} {unit:>7}" + "".join(f" {fmt(meds[k]):>9}"
                                                          for k in kernels)
            entry = {"metric": key, "label": f"14 {sh}: {label}", "unit": unit,
                     "better": "lower", "runs": values[key], **meds}
            for sk, name in stocks:
                s, o = meds[sk], meds.get("ours")
                ratio = o / s if s and o is not None else None
                entry["ratio" + ("" if sk == "stock" else "_612")] = ratio
                line += f" {(f'{ratio:.3f}' if ratio is not None else 'n/a'):>10}"
            out.append(line)
            metrics.append(entry)
    for m, label, unit, target in SHAPE_METRICS:
        for sk, name in stocks:
            suffix = "" if sk == "stock" else "_612"
            ratios = [e.get("ratio" + suffix) for e in metrics
                      if re.match(rf"shape_[a-z0-9]+_{m}$", e["metric"])]
            known = [r for r in ratios if r is not None]
            ntargets += 1
            ok = len(known) == len(SHAPES) and all(r <= target for r in known)
            met += ok
            spread = f"{min(known):.3f} .. {max(known):.3f}" if known else "n/a"
            held = sum(r <= target for r in known)
            out.append(f"{'14 spread: ' + label + ', ours/' + name:52} {spread:>16}  "
                       f"<= {target} on {held} of {len(SHAPES)} shapes: " +
                       ("met" if ok else "NOT met"))
            metrics.append({"metric": f"shapes_{m}_spread{suffix}",
                            "label": f"14 spread: {label}, ours/{name}",
                            "min": min(known) if known else None,
                            "max": max(known) if known else None,
                            "target": target, "held": held, "shapes": len(SHAPES),
                            "target_met": ok})
    return met, ntargets


LABELS = {"stock": "stock 6.1", "stock612": "stock 6.12", "ours": "ours"}
COLOURS = {"stock": "tab:blue", "stock612": "tab:orange", "ours": "tab:green"}


def plot(reports, curves, scale, version):
    """build/reports/bench.svg and .png: the savings-per-CPU curves of the kernels,
    and the cost per page of the scale workload."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no picture: python3-matplotlib is missing (make setup installs it)"
    # The scale panel only when workload 11 ran (BENCH_WORKLOADS may leave it out).
    if scale:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 5))
    else:
        fig, ax = plt.subplots(1, 1, figsize=(7, 5))
    for kernel, runs in curves.get("vm", {}).items():
        for i, points in enumerate(runs):
            ax.plot([p[1] for p in points], [p[2] for p in points], color=COLOURS[kernel],
                    alpha=1.0 if i == 0 else 0.4, lw=1.5,
                    label=f"{LABELS[kernel]} ({version[kernel]})" if i == 0 else None)
    ax.set_xlabel("ksmd CPU time (s)")
    ax.set_ylabel("memory saved (MiB, pages_sharing)")
    ax.set_title("10 VM-like: memory saved for the CPU ksmd spends (every boot)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if not scale:
        fig.tight_layout()
        fig.savefig(f"{reports}/bench.svg")
        fig.savefig(f"{reports}/bench.png", dpi=80)
        plt.close(fig)
        return f"written: {reports}/bench.svg, bench.png"
    # Scale: ns of ksmd CPU per page per full scan, by memory (1 process)
    # and by processes (the smallest memory).
    pts = [(int(a), int(b), k) for k in scale for a, b in [re.findall(r"\d+", k)]]
    for kernel in LABELS:
        mem = sorted((m, scale[k].get(kernel)) for m, p, k in pts if p == 1)
        procs = sorted((p, scale[k].get(kernel)) for m, p, k in pts
                       if m == min(x for x, _, _ in pts))
        if not any(v for _, v in mem):
            continue
        ax2.plot([f"{m} MiB" for m, _ in mem], [v for _, v in mem], "o-",
                 color=COLOURS[kernel], label=f"{LABELS[kernel]}, by memory (1 process)")
        ax2.plot([f"{p} procs" for p, _ in procs[1:]], [v for _, v in procs[1:]], "s--",
                 color=COLOURS[kernel], label=f"{LABELS[kernel]}, by processes")
    ax2.set_ylabel("ksmd CPU per page per full scan (ns)")
    ax2.set_title("11 scale: the cost per page as memory and processes grow")
    ax2.set_ylim(bottom=0)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(f"{reports}/bench.svg")
    fig.savefig(f"{reports}/bench.png", dpi=80)
    plt.close(fig)
    return f"written: {reports}/bench.svg, bench.png"


if __name__ == "__main__":
    sys.exit(main())
