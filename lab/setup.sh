#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install what the lab needs (Debian 12) and extract the base tree once.
# setup.sh stock612: also extract the whole 6.12 tree (make bench's third
# kernel; 1.5 GiB more, so only when that kernel is built).
source "$(dirname "$0")/common.sh"

PKGS="linux-source-6.1 linux-source-6.12 gcc make flex bison bc libelf-dev libssl-dev cpio xz-utils
      busybox-static qemu-system-x86 libnuma-dev ccache sparse perl python3
      python3-ply python3-git python3-matplotlib git kmod"

missing=()
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "packages missing (${missing[*]}) and no apt-get: install them by hand"
	[ "$(id -u)" -eq 0 ] || die "packages missing: ${missing[*]}; run as root (apt-get) or install them: apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	step "$BUILD/logs/apt.log" "installing ${missing[*]}" \
		sh -c 'apt-get update && apt-get install -y --no-install-recommends "$@"' sh "${missing[@]}"
fi

TARBALL=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1 || true)
[ -n "$TARBALL" ] || die "no /usr/src/linux-source-6.1.tar.*: is linux-source-6.1 installed?"

# Disk: the two trees, their objects and the patch repository take about 8 GiB.
mkdir -p "$SRC"
avail=$(df -Pk "$BUILD" | awk 'NR==2{print int($4/1024/1024)}')
need=8
[ -f "$VANILLA/.lab-tarball" ] && need=4
[ "$avail" -ge "$need" ] || die "disk almost full: ${avail} GiB free under $BUILD, the lab needs about ${need} GiB"

stamp="$(basename "$TARBALL") $(stat -c '%s %Y' "$TARBALL")"
if [ "$(cat "$VANILLA/.lab-tarball" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$VANILLA" "$SRC/extract"
	mkdir -p "$SRC/extract"
	step "$BUILD/logs/extract.log" "extracting $(basename "$TARBALL")" \
		tar -C "$SRC/extract" -xf "$TARBALL"
	mv "$SRC/extract"/linux-source-6.1 "$VANILLA"
	rmdir "$SRC/extract"
	echo "$stamp" >"$VANILLA/.lab-tarball"
fi
say "base tree: Linux $(base_version) (Debian linux-source-6.1, $VANILLA)"

# Upstream 6.12's KSM selftests and what they are built with, for the
# conformance suite; no more of that tree is needed.
UP_TARBALL=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1 || true)
[ -n "$UP_TARBALL" ] || die "no /usr/src/linux-source-6.12.tar.*: is linux-source-6.12 installed?"
stamp="$(basename "$UP_TARBALL") $(stat -c '%s %Y' "$UP_TARBALL")"
if [ "$(cat "$UP612/.lab-tarball" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$UP612" "$SRC/extract-6.12"
	mkdir -p "$SRC/extract-6.12"
	mm=linux-source-6.12/tools/testing/selftests/mm
	step "$BUILD/logs/extract-6.12.log" "extracting upstream 6.12's KSM selftests" \
		tar -C "$SRC/extract-6.12" -xf "$UP_TARBALL" \
		$mm/ksm_tests.c $mm/ksm_functional_tests.c $mm/vm_util.c $mm/vm_util.h \
		$mm/thp_settings.c $mm/thp_settings.h \
		linux-source-6.12/tools/testing/selftests/kselftest.h \
		linux-source-6.12/include/vdso/time64.h \
		linux-source-6.12/include/uapi/linux/fs.h
	mv "$SRC/extract-6.12"/linux-source-6.12 "$UP612"
	rmdir "$SRC/extract-6.12"
	echo "$stamp" >"$UP612/.lab-tarball"
fi

# The whole 6.12 tree, for the stock612 kernel.
if [ "${1:-}" = stock612 ] &&
   [ "$(cat "$STOCK612_SRC/.lab-tarball" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$STOCK612_SRC" "$SRC/extract-stock612"
	mkdir -p "$SRC/extract-stock612"
	step "$BUILD/logs/extract-stock612.log" "extracting $(basename "$UP_TARBALL") (the stock612 kernel)" \
		tar -C "$SRC/extract-stock612" -xf "$UP_TARBALL"
	mv "$SRC/extract-stock612"/linux-source-6.12 "$STOCK612_SRC"
	rmdir "$SRC/extract-stock612"
	echo "$stamp" >"$STOCK612_SRC/.lab-tarball"
	say "stock612 tree: Linux $(tree_version "$STOCK612_SRC") ($STOCK612_SRC)"
fi
