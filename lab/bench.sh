#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh [full|quick]: `make bench`.  Build the bench flavour (no debug
# options) of stock and ours, boot them in turn -- stock, ours, stock, ours,
# ... -- in the same QEMU setup, each boot running every workload of
# lab/guest/ksm_bench.c once, then print the medians with ours/stock and the
# targets, and write them with every run's value to build/reports/bench.json.
# quick: smaller sizes and one boot of each kernel.
source "$(dirname "$0")/common.sh"

mode=${1:-full}
case $mode in
full) suite=bench repeats=${BENCH_REPEATS:-3} ;;
quick) suite=bench-quick repeats=${BENCH_REPEATS:-1} ;;
*) die "BENCH must be full or quick, not '$mode'" ;;
esac
command -v python3 >/dev/null || die "python3 missing: run 'make setup'"

say "make bench ($mode): stock and ours, bench flavour, $repeats boot(s) of each"
lab_build stock bench
lab_build ours bench
grep -q '^CONFIG_SLUB_DEBUG=y' "$BUILD/obj/stock-bench/.config" "$BUILD/obj/ours-bench/.config" ||
	die "the bench kernels lack CONFIG_SLUB_DEBUG (no /proc/slabinfo)"

# Give the guests the host's TSC frequency (see host_tsc_khz).
tsc_khz=$(host_tsc_khz)
say "bench: host TSC ${tsc_khz} kHz, given to the guests as tsc_early_khz"

mkdir -p "$REPORTS"
rm -f "$REPORTS"/bench-*-[0-9]*.* "$REPORTS/bench.json" "$REPORTS/bench.txt"
t0=$(date +%s)
total=$((2 * repeats)) i=0 runs=
for r in $(seq 1 "$repeats"); do
	for k in stock ours; do
		i=$((i + 1))
		rep=bench-$k-$r
		runs="$runs $k:$r:$rep"
		say "bench: boot $i of $total: $k (run $r of $repeats), $(($(date +%s) - t0))s into the benchmark"
		# slab_nomerge: KSM's caches must not be merged with others of the
		# same size, or /proc/slabinfo cannot tell their objects apart.
		# tsc=reliable: under TCG the kernel finds the TSCs unsynchronized
		# and falls back to refined-jiffies, a 4 ms CLOCK_MONOTONIC.
		LAB_CMDLINE="slab_nomerge tsc=reliable tsc_early_khz=$tsc_khz ${LAB_CMDLINE:-}" \
			LAB_LIMIT=${LAB_LIMIT:-2400} \
			LAB_SHOW='^(ok |not ok |# running|    bench: (progress|FAIL|result))' \
			LAB_QUIET_VERDICT=1 lab_run "$k" bench "$suite" "$rep" ||
			say "bench: $k run $r: problems, see $REPORTS/$rep.summary"
		grep -q 'Switched to clocksource tsc' "$REPORTS/$rep.log" ||
			say "bench: warning: $k run $r: the guest's clocksource is not tsc ($REPORTS/$rep.log)"
	done
done
wall=$(($(date +%s) - t0))
say "bench: $total boots in ${wall}s"

# Gather: medians, ratios, targets; the table to the terminal and
# bench.txt, everything to bench.json.  Exit 1 when any run failed.
python3 - "$REPORTS" "$mode" "$repeats" "$wall" "$(base_version)" $runs <<'EOF'
import json, math, re, statistics, sys

reports, mode, repeats, wall, linux = sys.argv[1:6]
runs = [a.split(":") for a in sys.argv[6:]]

# key, label, unit, better, target (ours/stock) or None
METRICS = [
    ("merge_wall_s", "1 merge: wall time to full merge", "s", "lower", 0.5),
    ("merge_ksmd_cpu_s", "1 merge: ksmd CPU to full merge", "s", "lower", None),
    ("scan_pages_per_cpu_s", "2 scan: pages scanned per ksmd CPU-s", "pages/s", "higher", 2.0),
    ("scan_cpu_per_full_scan_s", "2 scan: ksmd CPU per full scan", "s", "lower", None),
    ("scan_wall_per_full_scan_s", "2 scan: wall time per full scan", "s", "lower", None),
    ("cow_fault_us", "3 COW: first write to merged page, median", "us", "lower", 1.0),
    ("unmerge_s", "4 unmerge: MADV_UNMERGEABLE", "s", "lower", 1.0),
    ("meta_bytes_per_registered_page", "5 metadata per registered page (slabs)", "B", "lower", 0.75),
    ("meta_bytes_per_merged_page", "5 metadata per merged page (slabs)", "B", "lower", None),
    ("meta_rmap_item_bytes", "5   of which ksm_rmap_item, in all", "B", "lower", None),
    ("meta_stable_node_bytes", "5   of which ksm_stable_node, in all", "B", "lower", None),
    ("meta_mm_slot_bytes", "5   of which ksm_mm_slot, in all", "B", "lower", None),
    ("meta_unstable_table_kib", "5 unstable hash table (sized for the items)", "KiB", "lower", None),
    ("meta_bytes_per_registered_page_incl_table", "5 metadata per registered page + table", "B", "lower", None),
    ("steady_ksmd_cpu_pct", "6 steady state: ksmd CPU", "%", "lower", 0.5),
    ("steady_full_scans_per_min", "6 steady state: full scans per minute", "1/min", "higher", None),
    # 8: smart scan's case (6.1 has none): idle memory for less CPU,
    # with the merges of new copies of it found no later.
    ("idle_ksmd_cpu_pct", "8 idle memory: ksmd CPU", "%", "lower", 0.5),
    ("idle_full_scans_per_min", "8 idle memory: full scans per minute", "1/min", "higher", None),
    ("idle_copy_merge_s", "8 idle memory: new copies merged after", "s", "lower", 1.0),
]
# 7: what the processes around ksmd wait while it scans flat out.
for k, what in (("fault", "first-touch fault"), ("mmap", "mmap or munmap"),
                ("unmerge", "MADV_UNMERGEABLE"), ("exit", "exit of a KSM user")):
    for q, target in (("p50", None), ("p99", 1.0), ("max", 1.0)):
        METRICS.append((f"latency_{k}_{q}_us", f"7 latency: {what}, {q}", "us", "lower", target))
WORKLOAD = {"merge": "merge", "meta": "merge", "scan": "scan", "cow": "cow",
            "unmerge": "unmerge", "steady": "steady", "latency": "latency",
            "idle": "idle", "domains": "domains"}
# 9: merge domains, ours only (stock has none): merge_domain memcg against
# global in the same boots, target memcg/global; and a mixed host's saving
# per tenant.  (label, global key, memcg key, unit, target)
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

def workload_of(key):
    return WORKLOAD[key.split("_")[0]]

values = {m[0]: {"stock": [], "ours": []} for m in METRICS}
values.update({k: {"stock": [], "ours": []} for k in DOMAIN_KEYS})
failures = []
for kernel, r, rep in runs:
    tap = open(f"{reports}/{rep}.tap", errors="replace").read().replace("\r", "")
    log = open(f"{reports}/{rep}.log", errors="replace").read().replace("\r", "")
    res, status, why, many = {}, {}, {}, {}
    for line in tap.splitlines():
        m = re.match(r"    bench: result (\S+) (\S+)$", line)
        if m:
            many.setdefault(m.group(1), []).append(float(m.group(2)))
        m = re.match(r"(ok|not ok) \d+ bench(?:-quick)?: (\w+)(.*)", line)
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
    # 10, 30) hlist heads of 8 bytes (mm/ksm/unstable.c).  Stock has none.
    if "merge_wall_s" in res:
        items = int(res["registered_pages"])
        bits = min(max((items // 2).bit_length(), 10), 30)
        table = (1 << bits) * 8 if kernel == "ours" else 0
        res["meta_unstable_table_kib"] = table / 1024
        res["meta_bytes_per_registered_page_incl_table"] = \
            res["meta_bytes_per_registered_page"] + table / res["registered_pages"]
    for w in sorted(set(WORKLOAD.values())):
        bad = None
        if kbad:
            bad = kbad.group(1)
        elif w not in status:
            bad = "did not run" + (f" ({guest.group(1)})" if guest else "")
        elif not status[w]:
            bad = why.get(w, "failed")
        if bad:
            failures.append({"kernel": kernel, "run": int(r), "workload": w, "why": bad})
    for key in values:
        w = workload_of(key)
        ok = not kbad and status.get(w) and key in res
        values[key][kernel].append(res[key] if ok else None)

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

out, metrics, met, ntargets = [], [], 0, 0
head = f"{'metric':44} {'unit':>7} {'stock':>9} {'ours':>9} {'ours/stock':>10} {'paired':>7}  target"
out.append(f"make bench ({mode}): Linux {linux}, medians of {repeats} boot(s) of each kernel "
           f"(QEMU TCG, 2 CPUs, 2 GiB, 2 NUMA nodes), {wall}s")
out.append(head)
out.append("-" * (len(head) + 14))
for key, label, unit, better, target in METRICS:
    s, o = med(values[key]["stock"]), med(values[key]["ours"])
    ratio = o / s if s and o is not None else None
    # Boots next to each other share the host's load: the median of the
    # per-pair ratios (stock run N, ours run N) is less noisy on a busy host.
    pairs = [b / a for a, b in zip(values[key]["stock"], values[key]["ours"])
             if a and b is not None]
    paired = statistics.median(pairs) if pairs else None
    tgt, ok = "", None
    if target is not None:
        ntargets += 1
        tgt = ("<= " if better == "lower" else ">= ") + f"{target}"
        if ratio is not None:
            ok = ratio <= target if better == "lower" else ratio >= target
            met += ok
        tgt += "  " + {True: "met", False: "NOT met", None: "not measured"}[ok]
    out.append(f"{label:44} {unit:>7} {fmt(s):>9} {fmt(o):>9} "
               f"{(f'{ratio:.3f}' if ratio is not None else 'n/a'):>10} "
               f"{(f'{paired:.3f}' if paired is not None else 'n/a'):>7}  {tgt}".rstrip())
    metrics.append({"metric": key, "label": label, "unit": unit, "better": better,
                    "stock": s, "ours": o, "ratio": ratio, "paired_ratio": paired,
                    "target": target, "target_met": ok,
                    "runs": values[key]})
out.append("")
out.append(f"{'9 merge domains, ours only (stock has none)':44} {'unit':>7} {'global':>9} "
           f"{'memcg':>9} {'memcg/gl.':>10} {'':>7}  target")
for label, g, m, unit, target in DOMAIN_PAIRS:
    gv, mv = med(values[g]["ours"]), med(values[m]["ours"])
    ratio = mv / gv if gv and mv is not None else None
    ntargets += 1
    ok = ratio <= target if ratio is not None else None
    met += bool(ok)
    tgt = f"<= {target}  " + {True: "met", False: "NOT met", None: "not measured"}[ok]
    out.append(f"{label:44} {unit:>7} {fmt(gv):>9} {fmt(mv):>9} "
               f"{(f'{ratio:.3f}' if ratio is not None else 'n/a'):>10} {'':>7}  {tgt}")
    metrics.append({"metric": m.replace("memcg_", "memcg_vs_global_"), "label": label,
                    "unit": unit, "better": "lower", "global": gv, "memcg": mv,
                    "ratio": ratio, "target": target, "target_met": ok,
                    "runs": {"global": values[g]["ours"], "memcg": values[m]["ours"]}})
for t, n in ((0, 4), (1, 2), (2, 1)):
    key = f"domains_tenant{t}_saved_mib"
    v = med(values[key]["ours"])
    out.append(f"{f'9 memcg: tenant{t} ({n} processes) saves':44} {'MiB':>7} "
               f"{'':>9} {fmt(v):>9}")
    metrics.append({"metric": key, "unit": "MiB", "ours": v, "runs": values[key]})
for key, label in (("domains_mixed_saved_mib", "9 mixed host: saved under memcg, in all"),
                   ("domains_mixed_global_would_save_mib", "9 mixed host: saved under global")):
    v = med(values[key]["ours"])
    out.append(f"{label:44} {'MiB':>7} {'':>9} {fmt(v):>9}")
    metrics.append({"metric": key, "unit": "MiB", "ours": v, "runs": values[key]})
out.append(f"targets met: {met} of {ntargets} (on ours/stock, the ratio of the medians; "
           f"paired: median of ours/stock of boots next to each other)")
for f in failures:
    out.append(f"FAILED: {f['kernel']} run {f['run']}, {f['workload']}: {f['why']}")
if not failures:
    out.append("every workload of every run merged what the data implies, contents intact")
out.append(f"written: {reports}/bench.json")
text = "\n".join(out)
print(text)
open(f"{reports}/bench.txt", "w").write(text + "\n")
json.dump({"bench": mode, "linux": linux, "repeats": int(repeats), "wall_s": int(wall),
           "order": [f"{k}-{r}" for k, r, _ in runs],
           "metrics": metrics, "failures": failures},
          open(f"{reports}/bench.json", "w"), indent=2)
sys.exit(1 if failures else 0)
EOF
