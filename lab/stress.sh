#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# stress.sh KERNEL FLAVOUR: `make stress`, the long runs of the stress and
# fault programs (the stress-long suite), with the verdict and the summary
# of operations, pages verified, mismatches and kernel warnings.
source "$(dirname "$0")/common.sh"

kernel=${1:-ours} flavour=${2:-test}
report=stress-$kernel-$flavour
"$LAB/setup.sh"
say "make stress: $kernel kernel, $flavour flavour, Linux $(base_version), seed ${SEED:-fresh per program}"
"$LAB/kernel.sh" "$kernel" "$flavour"
"$LAB/initramfs.sh"
LAB_LIMIT=${LAB_LIMIT:-10800} "$LAB/boot.sh" "$kernel" "$flavour" stress-long "$report"
say "verdict (build/reports/$report.summary):"
"$LAB/verdict.sh" "$report" "$(ksm_impl "$kernel")"
