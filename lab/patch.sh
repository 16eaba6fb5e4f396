#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# patch.sh: write the project as a patch series against the vanilla 6.1.y
# tree the base came from (build/patch/*.patch), prove that it applies with
# git am on a fresh copy of that tree, and (with --checkpatch) run
# scripts/checkpatch.pl --strict over it, printing TAP for make check.
#
# The series is lab/patches/*.patch (edits to base-kernel files, in order)
# followed by one commit per lab/series/*.txt: its first line is
# "paths: DIR-OR-FILE...", the rest the commit message.
source "$(dirname "$0")/common.sh"

repo=$BUILD/patch-repo out=$BUILD/patch logs=$BUILD/logs
[ -f "$VANILLA/.lab-tarball" ] || die "base tree missing: run 'make setup' first"
version=$(base_version)
g() { git -C "$repo" -c user.name="${GIT_AUTHOR_NAME:-KSM project}" \
	-c user.email="${GIT_AUTHOR_EMAIL:-ksm@example.org}" -c core.autocrlf=false "$@"; }

# A git repository holding the vanilla tree, made once per base.
# Its stamp lives in .git, out of reach of the "git clean -x" below.
if [ "$(cat "$repo/.git/lab-tarball" 2>/dev/null)" != "$(cat "$VANILLA/.lab-tarball")" ]; then
	rm -rf "$repo"
	mkdir -p "$repo"
	step "$logs/patch-repo.log" "making a git repository of vanilla Linux $version (once)" sh -c '
		cp -a "$1/." "$2/" && rm -f "$2/.lab-tarball" &&
		git -C "$2" init -q && git -C "$2" config gc.auto 0 && git -C "$2" add -A -f . &&
		git -C "$2" -c user.name=lab -c user.email=lab@localhost commit -q -m "Linux $3" &&
		git -C "$2" tag -f vanilla' sh "$VANILLA" "$repo" "$version"
	cp "$VANILLA/.lab-tarball" "$repo/.git/lab-tarball"
fi

g checkout -q -f -B series vanilla
g clean -q -fdx
for p in "$LAB"/patches/*.patch; do
	[ -e "$p" ] || continue
	g am -q --keep-cr "$p" >>"$logs/patch.log" 2>&1 ||
		{ g am --abort 2>/dev/null; die "lab/patches/$(basename "$p") does not apply with git am to Linux $version"; }
done
covered=$(mktemp)
for s in "$LAB"/series/*.txt; do
	[ -e "$s" ] || continue
	paths=$(sed -n '1s/^paths://p' "$s")
	[ -n "$paths" ] || die "$s: first line must be 'paths: ...'"
	for p in $paths; do
		project_files | grep -E "^$p(/|$)" >>"$covered" || true
		[ -e "$ROOT/$p" ] || continue
		if [ -d "$ROOT/$p" ]; then
			mkdir -p "$repo/$p"
			cp -a "$ROOT/$p/." "$repo/$p/"
		else
			mkdir -p "$repo/$(dirname "$p")"
			cp -a "$ROOT/$p" "$repo/$p"
		fi
		g add -A -f -- "$p"
	done
	if ! g diff --cached --quiet; then
		sed 1,2d "$s" | g commit -q -F -
	fi
done
stray=$(project_files | LC_ALL=C comm -23 - <(LC_ALL=C sort -u "$covered"))
rm -f "$covered"
[ -z "$stray" ] || die "files in no commit of lab/series/: $stray"

rm -rf "$out"
mkdir -p "$out"
n=$(g rev-list --count vanilla..series)
if [ "$n" -gt 0 ]; then
	g format-patch -q --no-signature -o "$out" vanilla..series
fi
# The series must apply with git am on a fresh copy of the vanilla tree and
# give exactly the tree the lab builds.
g checkout -q -f -B verify vanilla
if [ "$n" -gt 0 ] && ! g am -q "$out"/*.patch >>"$logs/patch.log" 2>&1; then
	g am --abort 2>/dev/null || true
	die "the series in $out does not apply with git am to vanilla Linux $version"
fi
g diff --quiet series verify || die "the series applied with git am differs from the project's tree"
say "patch series: $n patches against Linux $version in $out (applies with git am)"

if [ "${1:-}" = --checkpatch ]; then
	host=$REPORTS/host-patch.tap
	mkdir -p "$REPORTS"
	{
		echo "ok 1 host: make patch: $n patches apply with git am to vanilla Linux $version"
		if [ "$n" -eq 0 ]; then
			echo "ok 2 host: checkpatch --strict # SKIP the series is empty"
		else
			errs=0 warns=0 checks=0
			: >"$REPORTS/checkpatch.log"
			for p in "$out"/*.patch; do
				echo "== $(basename "$p")" >>"$REPORTS/checkpatch.log"
				# Debian's python3 (spdxcheck.py needs its python3-ply, python3-git)
				# in a git tree of the kernel.
				(cd "$repo" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl --strict --no-signoff -q "$p") \
					>>"$REPORTS/checkpatch.log" 2>&1 || true
			done
			errs=$(grep -c '^ERROR:' "$REPORTS/checkpatch.log" || true)
			warns=$(grep -c '^WARNING:' "$REPORTS/checkpatch.log" || true)
			checks=$(grep -c '^CHECK:' "$REPORTS/checkpatch.log" || true)
			if [ "$errs" -eq 0 ]; then
				echo "ok 2 host: checkpatch --strict over $n patches: 0 errors, $warns warnings, $checks checks ($REPORTS/checkpatch.log)"
			else
				echo "not ok 2 host: checkpatch --strict over $n patches: $errs errors, $warns warnings, $checks checks ($REPORTS/checkpatch.log)"
			fi
		fi
	} >"$host"
	cat "$host"
fi
