#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# stress.sh KERNEL FLAVOUR: `make stress`, the long runs of the stress and
# fault programs (the stress-long suite), with the verdict and the summary
# of operations, pages verified, mismatches and kernel warnings.
source "$(dirname "$0")/common.sh"

kernel=${1:-ours} flavour=${2:-test}
report=stress-$kernel-$flavour
say "make stress: $kernel kernel, $flavour flavour, seed ${SEED:-fresh per program}"
LAB_LIMIT=${LAB_LIMIT:-10800} lab_run "$kernel" "$flavour" stress-long "$report"
