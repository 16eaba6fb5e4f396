#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# lint.sh: the build checks of the project's KSM sources, as TAP lines in
# build/reports/host-lint.tap: mm/ksm/ with W=1 (and sparse where it is
# installed), the whole kernel with CONFIG_KSM=n, and the clean-room check.
source "$(dirname "$0")/common.sh"

out=$REPORTS/host-lint.tap
logs=$BUILD/logs
mkdir -p "$REPORTS" "$logs"
: >"$out"
n=10
res() { n=$((n + 1)); echo "$1 $n host: $2" | tee -a "$out"; }

if [ "$(ksm_impl ours)" != ours ]; then
	res ok "lint # SKIP the project has no KSM sources yet"
	exit 0
fi
ksmdirs=
[ -d "$ROOT/mm/ksm" ] && ksmdirs="mm/ksm/"
[ -f "$ROOT/mm/ksm.c" ] && ksmdirs="$ksmdirs mm/ksm.o"

# W=1 and sparse: a configured object folder of its own, so the normal
# build's objects keep their flags.
obj=$BUILD/obj/ours-lint
sparse=
command -v sparse >/dev/null && sparse="C=2"
LAB_OBJ_SUFFIX= "$LAB/tree.sh" >/dev/null
mkdir -p "$obj"
cp "$BUILD/obj/ours-test/.config" "$obj/.config"
# With memory hot-remove too, so that the code under it is built.
"$OURS_SRC/scripts/config" --file "$obj/.config" -e MEMORY_HOTPLUG -e MEMORY_HOTREMOVE
mk=(make -C "$OURS_SRC" O="$obj" ARCH=x86_64 CC="ccache gcc" -j"$JOBS")
step "$logs/lint-prepare.log" "preparing $obj" sh -c '"$@" olddefconfig && "$@" prepare' sh "${mk[@]}"
grep -q '^CONFIG_MEMORY_HOTREMOVE=y' "$obj/.config" ||
	die "lint: Kconfig dropped CONFIG_MEMORY_HOTREMOVE"
# Only the KSM objects are built here, so every warning is one of ours
# (or of a header inline that our code calls).
rm -f "$obj"/mm/ksm/*.o "$obj"/mm/ksm.o
if step "$logs/lint.log" "building $ksmdirs with W=1 ${sparse:+and sparse}" \
	"${mk[@]}" W=1 $sparse $ksmdirs; then
	warns=$(grep -E '(warning|error):' "$logs/lint.log" || true)
	if [ -z "$warns" ]; then
		res ok "W=1 ${sparse:+and sparse }build of $ksmdirs: no warnings"
	else
		res "not ok" "W=1 ${sparse:+and sparse }build of $ksmdirs: $(wc -l <<<"$warns") warnings ($logs/lint.log)"
		head -n 10 <<<"$warns" | sed 's/^/    /'
	fi
else
	res "not ok" "W=1 build of $ksmdirs failed ($logs/lint.log)"
fi

# CONFIG_KSM=n: every caller's stub must build.
noksm=$BUILD/noksm.config
printf '%s\n' "CONFIG_KSM=n" "CONFIG_KSM_KUNIT_TEST=n" >"$noksm"
# No stale kernel for the controls (lab/controls.sh) if this build fails.
rm -f "$BUILD/obj/ours-test-noksm/arch/x86/boot/bzImage"
if (LAB_EXTRA_CONFIG=$noksm LAB_OBJ_SUFFIX=-noksm "$LAB/kernel.sh" ours test); then
	res ok "the kernel builds with CONFIG_KSM=n"
else
	res "not ok" "the kernel does not build with CONFIG_KSM=n ($logs/build-ours-test-noksm.log)"
fi

# Layers: the files of mm/ksm/ call each other in one direction only.
if [ -d "$ROOT/mm/ksm" ]; then
	if python3 "$LAB/callgraph.py" "$ROOT/mm/ksm" >"$logs/callgraph.log"; then
		res ok "mm/ksm/ call graph has no cycle: $(tail -n 1 "$logs/callgraph.log")"
	else
		res "not ok" "mm/ksm/ call graph: $(tail -n 1 "$logs/callgraph.log") ($logs/callgraph.log)"
	fi
fi

# Mutants (make mutants): each must still apply to today's sources, or it
# tests nothing; make mutants is too long for make check, this is not.
if ls "$LAB"/mutants/*.patch >/dev/null 2>&1; then
	stale=
	for p in "$LAB"/mutants/*.patch; do
		patch --dry-run -p1 -s -f -d "$ROOT" <"$p" >/dev/null 2>&1 ||
			stale="$stale $(basename "$p" .patch)"
	done
	nmut=$(ls "$LAB"/mutants/*.patch | wc -l)
	if [ -z "$stale" ]; then
		res ok "lab/mutants: all $nmut apply to today's sources"
	else
		res "not ok" "lab/mutants: these no longer apply:$stale"
	fi
fi

# Exports: every symbol stock 6.1's KSM exports, ours exports too (a
# modular KVM on powerpc calls ksm_madvise()).
exports() { grep -ohE 'EXPORT_SYMBOL(_GPL)?\([a-z_0-9]+\)' "$@" | sort -u; }
stock_exports=$(exports "$VANILLA/mm/ksm.c")
our_exports=$(exports "$ROOT"/mm/ksm/*.c)
missing=$(comm -23 <(echo "$stock_exports") <(echo "$our_exports"))
if [ -z "$stock_exports" ]; then
	res "not ok" "exports: found none in $VANILLA/mm/ksm.c"
elif [ -z "$missing" ]; then
	res ok "exports: all of stock 6.1's KSM exports are ours too ($(echo $stock_exports))"
else
	res "not ok" "exports: stock 6.1 exports what ours does not: $(echo $missing)"
fi

# ksmstat with the kernel's own tools build (tools/vm/Makefile, patched by
# lab/patches/0009), warnings included, in the ours tree.
if [ -f "$OURS_SRC/tools/vm/ksmstat.c" ]; then
	if make -C "$OURS_SRC/tools/vm" ksmstat >"$logs/ksmstat-build.log" 2>&1 &&
		! grep -q 'warning:' "$logs/ksmstat-build.log" &&
		"$OURS_SRC/tools/vm/ksmstat" --help >/dev/null; then
		res ok "tools/vm: make ksmstat builds it, without warnings"
	else
		res "not ok" "tools/vm: make ksmstat failed or warned ($logs/ksmstat-build.log)"
	fi
	rm -f "$OURS_SRC/tools/vm/ksmstat"
	make -C "$OURS_SRC/tools/lib/api" clean >/dev/null 2>&1 || true
fi

# Clean room: our KSM sources against upstream's.
cr=${CLEANROOM_CHECK:-$ROOT/../shared/tools/cleanroom-check}
if [ -x "$cr" ]; then
	if "$cr" "$ROOT" >"$logs/cleanroom.log" 2>&1; then
		res ok "cleanroom-check: $(tail -n 1 "$logs/cleanroom.log")"
	else
		res "not ok" "cleanroom-check: $(tail -n 1 "$logs/cleanroom.log") ($logs/cleanroom.log)"
	fi
else
	res ok "cleanroom-check # SKIP $cr is not on this machine"
fi
