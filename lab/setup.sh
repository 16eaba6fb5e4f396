#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install what the lab needs (Debian 12) and extract the base tree once.
source "$(dirname "$0")/common.sh"

PKGS="linux-source-6.1 gcc make flex bison bc libelf-dev libssl-dev cpio xz-utils
      busybox-static qemu-system-x86 libnuma-dev ccache sparse perl python3
      python3-ply python3-git git kmod"

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
