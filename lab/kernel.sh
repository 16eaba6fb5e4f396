#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kernel.sh KERNEL FLAVOUR: build bzImage of KERNEL (ours|stock|stock612|
# mutant) in FLAVOUR (test|bench|kasan) incrementally, in
# build/obj/KERNEL-FLAVOUR.  stock is the base 6.1.y, stock612 Debian's
# 6.12.y (make bench's third kernel), mutant the tree lab/mutants.sh
# prepares in build/src/mutant.
source "$(dirname "$0")/common.sh"

kernel=${1:?usage: kernel.sh ours|stock|stock612|mutant FLAVOUR}
flavour=${2:?usage: kernel.sh ours|stock|stock612|mutant FLAVOUR}
case $kernel in
ours) "$LAB/tree.sh"; src=$OURS_SRC ;;
stock) src=$VANILLA ;;
stock612) "$LAB/setup.sh" stock612; src=$STOCK612_SRC ;;
mutant)
	src=$SRC/mutant
	[ -f "$src/Makefile" ] || die "no mutant tree in $src: lab/mutants.sh makes it"
	;;
*) die "KERNEL must be ours, stock or stock612, not '$kernel'" ;;
esac
frags="$LAB/config/base.config"
case $flavour in
test | bench) frags="$frags $LAB/config/$flavour.config" ;;
kasan) frags="$frags $LAB/config/test.config $LAB/config/kasan.config" ;;
*) die "FLAVOUR must be test, bench or kasan, not '$flavour'" ;;
esac
# What 6.12 names otherwise, or has no more.
[ "$kernel" = stock612 ] && frags="$frags $LAB/config/stock612.config"
[ -n "${LAB_EXTRA_CONFIG:-}" ] && frags="$frags $LAB_EXTRA_CONFIG"
for f in $frags; do [ -f "$f" ] || die "config fragment $f missing"; done

name=$kernel-$flavour${LAB_OBJ_SUFFIX:-}
obj=$BUILD/obj/$name
logs=$BUILD/logs
mkdir -p "$obj" "$logs"
command -v ccache >/dev/null || die "ccache missing: run 'make setup'"
export CCACHE_BASEDIR=$SRC KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 2026"
export KBUILD_BUILD_USER=lab KBUILD_BUILD_HOST=lab
mk=(make -C "$src" O="$obj" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" -j"$JOBS")

# Configure only when the fragments (or the base) changed.
cfgstamp=$(cat "$src/.lab-tarball" $frags 2>/dev/null | sha1sum | cut -c1-16)
if [ "$(cat "$obj/.lab-config" 2>/dev/null)" != "$cfgstamp" ]; then
	step "$logs/config-$name.log" "configuring $name (tinyconfig + $(echo $frags | xargs -n1 basename | tr '\n' ' '))" \
		sh -c '"$@" tinyconfig &&
		       "$0/scripts/kconfig/merge_config.sh" -m -O "'"$obj"'" "'"$obj"'/.config" '"$frags"' &&
		       "$@" olddefconfig' "$src" "${mk[@]}"
	# Every option a fragment asks for must have survived Kconfig.
	# (the last fragment to name an option decides, as in merge_config.sh),
	# but the ones that lab/patches add, in the stock kernel.
	ours_only=
	case $kernel in stock | stock612) ours_only=CONFIG_KSM_KUNIT_TEST ;; esac
	bad=$(cat $frags | sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=\(.*\)$/\1=\2/p' |
	      tac | awk -F= '!seen[$1]++' | while read -r l; do
		o=${l%%=*} v=${l#*=}
		case " $ours_only " in *" $o "*) continue ;; esac
		if [ "$v" = n ]; then
			! grep -q "^$o=" "$obj/.config" || echo "$o (wanted n)"
		else
			grep -qx "$l" "$obj/.config" || echo "$o (wanted $v)"
		fi
	done)
	[ -z "$bad" ] || die "Kconfig dropped options of the fragments: $bad"
	echo "$cfgstamp" >"$obj/.lab-config"
fi

step "$logs/build-$name.log" "building $name kernel (Linux $(tree_version "$src"), log $logs/build-$name.log)" \
	"${mk[@]}" ${LAB_MAKE_ARGS:-} bzImage
grep -E '(warning|error):' "$logs/build-$name.log" | grep -v '^ld: warning: .*has a LOAD segment' |
	sed 's/^/    /' | head -n 20 || true
say "kernel: $obj/arch/x86/boot/bzImage"
