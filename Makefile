# SPDX-License-Identifier: GPL-2.0
# The KSM lab.  `make run` builds and boots the project's kernel and shows
# KSM merging live; `make check` runs every test.  See README.md.

KERNEL  ?= ours
FLAVOUR ?= test
BENCH   ?= full
WORKLOAD ?= merge
PROFILER ?= tick
DEMO    ?= merge
LAB     := lab
# SEED=N: the stress programs' seed (default: a fresh one, printed).
export SEED

.PHONY: all run check stress bench profile mutants shell patch setup kernel initramfs clean distclean help

all: help

help:
	@echo "make run     build and boot KERNEL=$(KERNEL) and show KSM merging live (DEMO=merge|domains|vms)"
	@echo "make check   build, boot and run every test (KERNEL=ours|stock|stock612, FLAVOUR=test|kasan)"
	@echo "make stress  the long stress and fault runs (FLAVOUR=test|kasan, SEED=N to repeat)"
	@echo "make bench   stock 6.1, stock 6.12 and ours, bench flavour: medians, ratios, targets, picture (BENCH=quick: short)"
	@echo "make profile KERNEL=ours|stock WORKLOAD=merge|scan|vm|... [PROFILER=tick|perf]: where the kernel spends its time"
	@echo "make mutants deliberate faults in mm/ksm/ (lab/mutants/), each against make check's suites"
	@echo "make shell   an interactive shell in the guest"
	@echo "make patch   write the project as a patch series against vanilla 6.1.y in build/patch"
	@echo "make setup   install packages (Debian 12, as root) and extract the base tree"

setup:
	@$(LAB)/setup.sh

kernel: setup
	@$(LAB)/kernel.sh $(KERNEL) $(FLAVOUR)

initramfs: setup
	@$(LAB)/initramfs.sh

check:
	@$(LAB)/check.sh $(KERNEL) $(FLAVOUR)

stress:
	@$(LAB)/stress.sh $(KERNEL) $(FLAVOUR)

run:
	@$(LAB)/run.sh $(KERNEL) $(FLAVOUR) $(DEMO)

bench:
	@$(LAB)/bench.sh $(BENCH)

profile:
	@PROFILER=$(PROFILER) $(LAB)/profile.sh $(KERNEL) $(WORKLOAD)

mutants:
	@$(LAB)/mutants.sh $(MUTANTS)

shell: kernel initramfs
	@$(LAB)/boot.sh $(KERNEL) $(FLAVOUR) shell shell

patch: setup
	@$(LAB)/patch.sh

clean:
	rm -rf build/obj build/guest build/reports build/stage* build/src/mutant

distclean:
	rm -rf build
