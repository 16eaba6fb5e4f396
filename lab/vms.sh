#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# vms.sh [--check]: the initramfs of `make run DEMO=vms`, in
# build/guest-vms: the lab guest's own (build/guest, made by initramfs.sh)
# plus QEMU with the libraries, TCG module and firmware it loads, and what
# the small VMs boot: a kernel and an initramfs of busybox,
# lab/guest/vm-init and an "OS image" of 16 MiB, the same bytes in every VM
# (build/guest-vms/vm).  The VMs boot the stock bench kernel, so that ours
# and stock run the same guests.
#
# --check (make check): the VMs boot the ours test kernel, the one make
# check already built, and so does the lab guest; the demo runs there and
# its result goes to build/reports/host-vms.tap.
source "$(dirname "$0")/common.sh"

mode=${1:-demo}
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
case $mode in
--check) kimg=$BUILD/obj/ours-test/arch/x86/boot/bzImage ;;
demo) kimg=$BUILD/obj/stock-bench/arch/x86/boot/bzImage ;;
*) die "usage: vms.sh [--check]" ;;
esac
[ -f "$kimg" ] || die "no kernel for the VMs at $kimg: build it first"
[ -f "$BUILD/guest/initramfs.cpio.gz" ] || die "no lab initramfs: run lab/initramfs.sh first"
out=$BUILD/guest-vms
root=$out/root
rm -rf "$out"
mkdir -p "$root" "$out/vm/bin"

# The VMs' initramfs.
cp "$BUILD/guest/root/bin/busybox" "$out/vm/bin/busybox"
cp "$LAB/guest/vm-init" "$out/vm/init"
mkdir -p "$out/vm"/{proc,sys,dev,vm}
# The OS image: pseudo-random, so that it neither compresses nor merges
# within a VM, the same in every VM.
python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(1).randbytes(16 << 20))' \
	>"$out/vm/vm/os.img" || die "python3 missing (the VMs' image)"
(cd "$out/vm" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out/vm-initrd.gz"

# The lab guest's root, then QEMU and what it loads, at the same paths.
cp -a "$BUILD/guest/root/." "$root/"
mkdir -p "$root/vm"
cp "$kimg" "$root/vm/bzImage"
cp "$out/vm-initrd.gz" "$root/vm/initrd.gz"
cp "$LAB/guest/vms-demo" "$root/lab/vms-demo"
add() { mkdir -p "$root$(dirname "$1")" && cp -L "$1" "$root$1"; }
add "$qemu"
ldd "$qemu" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do add "$lib"; done
moddir=$(dirname "$(find /usr/lib -name 'accel-tcg-x86_64.so' -print -quit 2>/dev/null)")
[ -n "$moddir" ] && [ "$moddir" != . ] && add "$moddir/accel-tcg-x86_64.so"
for f in /usr/share/qemu/qboot.rom /usr/share/qemu/bios-microvm.bin /usr/share/qemu/linuxboot_dma.bin \
	/usr/share/qemu/pvh.bin; do
	[ -e "$f" ] && add "$f"
done
echo "vms|1800|/lab/vms-demo 2 128" >"$root/lab/vms.cases"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out/initramfs.cpio.gz"
say "initramfs for DEMO=vms: $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1), of which QEMU and its libraries $(du -sh "$root/usr" | cut -f1) unpacked)"

[ "$mode" = --check ] || exit 0
t0=$(date +%s)
tap=$REPORTS/host-vms.tap
if LAB_GUEST=$out LAB_MEM=${LAB_MEM:-3G} LAB_SHOW='^$' LAB_QUIET_VERDICT=1 \
	lab_boot ours test vms check-vms; then
	echo "ok 20 host: vms: $(tr -d '\r' <"$REPORTS/check-vms.tap" |
		sed -n 's/^    # vms: //p' | tail -n 1) ($(($(date +%s) - t0))s in all)" >"$tap"
else
	echo "not ok 20 host: vms: two QEMU guests in the guest: see $REPORTS/check-vms.summary" >"$tap"
fi
cat "$tap"
