// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the interface to the rest of the kernel, the top of the layers.
 * Registration of mms and areas (madvise, the prctl that merges a whole
 * process, fork, exit) and the init of everything; /sys/kernel/mm/ksm is
 * in sysfs.c, the rmap, migration and swapin hooks in rmap.c.
 */
#include <linux/debugfs.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>

#include <trace/events/ksm.h>

#include "ksm.h"

/* Can pages of an area of @file (NULL: anonymous) with @vm_flags merge? */
static bool ksm_flags_ok(struct file *file, unsigned long vm_flags)
{
	unsigned long bad = VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO |
			    VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP;

#ifdef VM_SAO
	bad |= VM_SAO;
#endif
#ifdef VM_SPARC_ADI
	bad |= VM_SPARC_ADI;
#endif
	return !(vm_flags & bad) && !(file && IS_DAX(file->f_mapping->host));
}

static bool ksm_vma_ok(struct vm_area_struct *vma, unsigned long vm_flags)
{
	return ksm_flags_ok(vma->vm_file, vm_flags);
}

/**
 * __ksm_enter() - register an mm with ksmd
 * @mm_to_scan: the mm, not registered yet
 *
 * Called by MADV_MERGEABLE, and by fork for the child of a registered mm.
 *
 * Return: 0, or -ENOMEM.
 */
int __ksm_enter(struct mm_struct *mm_to_scan)
{
	bool first;
	int err;

	err = ksm_cursor_add_mm(mm_to_scan, &first);
	if (err)
		return err;
	set_bit(MMF_VM_MERGEABLE, &mm_to_scan->flags);
	trace_ksm_enter(mm_to_scan);
	if (first)
		ksm_wake();
	return 0;
}

/**
 * __ksm_exit() - an mm's last user has gone
 * @dying_mm: the registered mm
 *
 * Its rmap items and slot are freed now, or left to ksmd when that would
 * mean a wait and there is no merged page to account (ksm_forget_mm()).
 */
void __ksm_exit(struct mm_struct *dying_mm)
{
	ksm_forget_mm(dying_mm);
	trace_ksm_exit(dying_mm);
}

/**
 * ksm_madvise() - MADV_MERGEABLE and MADV_UNMERGEABLE of a range
 * @vma: the area
 * @start: first address
 * @end: address after the last
 * @advice: MADV_MERGEABLE or MADV_UNMERGEABLE; anything else is ignored
 * @vm_flags: the area's flags, updated for the caller to apply
 *
 * MADV_UNMERGEABLE (also called by mremap) gives every KSM page of the
 * range a private copy before it returns.
 *
 * Context: @vma's mmap_lock held for write.
 * Return: 0, -ENOMEM, or -ERESTARTSYS if a signal came while unmerging.
 */
int ksm_madvise(struct vm_area_struct *vma,
		unsigned long start, unsigned long end,
		int advice, unsigned long *vm_flags)
{
	int err;

	switch (advice) {
	case MADV_MERGEABLE:
		if ((*vm_flags & VM_MERGEABLE) || !ksm_vma_ok(vma, *vm_flags))
			return 0;
		if (!test_bit(MMF_VM_MERGEABLE, &vma->vm_mm->flags)) {
			err = __ksm_enter(vma->vm_mm);
			if (err)
				return err;
		}
		*vm_flags |= VM_MERGEABLE;
		return 0;

	case MADV_UNMERGEABLE:
		/* Without an anon_vma, no page here was ever merged. */
		if ((*vm_flags & VM_MERGEABLE) && vma->anon_vma) {
			mmap_assert_write_locked(vma->vm_mm);
			err = ksm_break_range(vma, start, end);
			if (err)
				return err;
			ksm_forget_range(vma->vm_mm, start, end, false);
		}
		*vm_flags &= ~VM_MERGEABLE;
		return 0;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(ksm_madvise);

/*
 * Whole-process merging, prctl(PR_SET_MEMORY_MERGE): with MMF_VM_MERGE_ANY
 * set on an mm, each of its areas that can be merged is MADV_MERGEABLE, the
 * ones it has and the ones it gets.  The flag is in MMF_INIT_MASK: the
 * child of a fork and the new mm of an execve keep it.  MADV_UNMERGEABLE
 * still works on one area; 0 unmerges every area of the mm.
 *
 * mmap and brk give a new area VM_MERGEABLE before they look for a
 * neighbour to extend (ksm_vma_flags()), so that the new range extends a
 * mergeable neighbour as it would without KSM (a heap grown by brk stays
 * one area), and never extends one that MADV_UNMERGEABLE left unmergeable.
 * ksm_add_vma() then settles what a file's ->mmap() changed, and marks
 * execve's stack.
 */

/* MADV_MERGEABLE of the whole of @vma, if it can be merged. */
static int ksm_merge_vma(struct vm_area_struct *vma)
{
	unsigned long vm_flags = vma->vm_flags;
	int err;

	err = ksm_madvise(vma, vma->vm_start, vma->vm_end, MADV_MERGEABLE,
			  &vm_flags);
	if (!err)
		vma->vm_flags = vm_flags;
	return err;
}

/**
 * ksm_vma_flags() - the flags of a new area of an mm, as KSM would have them
 * @mm: the mm
 * @file: the file the area maps, or NULL
 * @vm_flags: the flags mmap or brk is about to give the area
 *
 * In an mm that merges everything, an area that can be merged is made
 * VM_MERGEABLE from the start.  An mm not registered yet (its registration
 * at execve failed) is registered now; if that fails again (-ENOMEM), the
 * flags are left as madvise would leave them.
 *
 * Context: @mm's mmap_lock held for write.
 * Return: @vm_flags, with VM_MERGEABLE if the area is to be mergeable.
 */
unsigned long ksm_vma_flags(struct mm_struct *mm, struct file *file,
			    unsigned long vm_flags)
{
	mmap_assert_write_locked(mm);
	if (!test_bit(MMF_VM_MERGE_ANY, &mm->flags) ||
	    (vm_flags & VM_MERGEABLE) || !ksm_flags_ok(file, vm_flags))
		return vm_flags;
	if (!test_bit(MMF_VM_MERGEABLE, &mm->flags) && __ksm_enter(mm))
		return vm_flags;
	return vm_flags | VM_MERGEABLE;
}

/**
 * ksm_add_vma() - a new area of an mm, once set up
 * @vma: the area: just made by mmap, or execve's stack
 *
 * In an mm that merges everything, @vma is mergeable if it can be, and
 * only then: a file's ->mmap() may have changed the flags ksm_vma_flags()
 * chose (a hugetlbfs file, a driver's VM_IO), and execve's stack was made
 * before the mm had the flag.  The area has no page yet.
 *
 * Context: @vma's mmap_lock held for write.
 */
void ksm_add_vma(struct vm_area_struct *vma)
{
	if (!test_bit(MMF_VM_MERGE_ANY, &vma->vm_mm->flags))
		return;
	if (ksm_vma_ok(vma, vma->vm_flags))
		ksm_merge_vma(vma);
	else
		vma->vm_flags &= ~VM_MERGEABLE;
}

/**
 * ksm_enable_merge_any() - merge every area of @mm, now and to come
 * @mm: the mm of the caller of prctl(PR_SET_MEMORY_MERGE, 1)
 *
 * Context: @mm's mmap_lock held for write.
 * Return: 0, or -ENOMEM if @mm could not be registered.
 */
int ksm_enable_merge_any(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err = 0;

	mmap_assert_write_locked(mm);
	if (!test_bit(MMF_VM_MERGE_ANY, &mm->flags)) {
		/* Registered first: then marking an area cannot fail. */
		if (!test_bit(MMF_VM_MERGEABLE, &mm->flags))
			err = __ksm_enter(mm);
		if (!err) {
			set_bit(MMF_VM_MERGE_ANY, &mm->flags);
			for_each_vma(vmi, vma) {
				ksm_merge_vma(vma);
				cond_resched();
			}
		}
	}
	return err;
}

/**
 * ksm_disable_merge_any() - stop merging @mm's areas, and unmerge them
 * @mm: the mm of the caller of prctl(PR_SET_MEMORY_MERGE, 0)
 *
 * Every area of @mm is unmerged and unregistered, as by MADV_UNMERGEABLE,
 * those that madvise registered included.  If that fails, the areas are
 * all mergeable again and the flag stays.
 *
 * Context: @mm's mmap_lock held for write.
 * Return: 0, -ENOMEM, or -ERESTARTSYS if a signal came while unmerging.
 */
int ksm_disable_merge_any(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	unsigned long flags;
	int err = 0;

	mmap_assert_write_locked(mm);
	if (!test_bit(MMF_VM_MERGE_ANY, &mm->flags))
		return 0;
	/* Area by area, as madvise would; the first failure stops it. */
	for_each_vma(vmi, vma) {
		flags = vma->vm_flags;
		err = ksm_madvise(vma, vma->vm_start, vma->vm_end,
				  MADV_UNMERGEABLE, &flags);
		if (err)
			break;
		vma->vm_flags = flags;
		cond_resched();
	}
	if (!err) {
		clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
		return 0;
	}
	/* Then every area is mergeable again, as the flag says. */
	vma_iter_init(&vmi, mm, 0);
	for_each_vma(vmi, vma) {
		ksm_merge_vma(vma);
		cond_resched();
	}
	return err;
}

/**
 * ksm_process_profit() - what KSM saves a process, in bytes
 * @mm: the process's mm
 *
 * The pages it maps merged (KSM pages and KSM zero pages), less the memory
 * its rmap items take: negative while KSM costs it more than it saves.
 * The counters are read without a lock, as /proc shows them.
 *
 * Return: the profit in bytes.
 */
long ksm_process_profit(struct mm_struct *mm)
{
	long saved = READ_ONCE(mm->ksm_merging_pages) +
		     atomic_long_read(&mm->ksm_zero_pages);

	return saved * (long)PAGE_SIZE -
	       (long)READ_ONCE(mm->ksm_rmap_items) *
	       (long)sizeof(struct ksm_rmap_item);
}

/**
 * ksm_process_mergeable() - does @mm have an area registered with KSM?
 * @mm: the mm
 *
 * Context: @mm's mmap_lock held.
 * Return: true if one of its areas is mergeable.
 */
bool ksm_process_mergeable(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	bool any = false;

	mmap_assert_locked(mm);
	for_each_vma(vmi, vma) {
		any = vma->vm_flags & VM_MERGEABLE;
		if (any)
			break;
		cond_resched();
	}
	return any;
}

#if defined(CONFIG_DEBUG_FS) && defined(CONFIG_DEBUG_VM)
/*
 * Debug kernels only, for tests that play an attacker who knows the key:
 * /sys/kernel/debug/ksm/checksum_key and unstable_bits (root only).
 */
static void __init ksm_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("ksm", NULL);

	ksm_core_debugfs(dir);
	ksm_unstable_debugfs(dir);
}
#else
static inline void ksm_debugfs_init(void)
{
}
#endif

/* Bring up each layer from the bottom; a failure undoes what was done. */
static int __init ksm_init(void)
{
	int err;

	ksm_core_init();
	ksm_domain_init();
	err = ksm_stable_init();
	if (err)
		goto out;
	err = ksm_unstable_init();
	if (err)
		goto out_stable;
	err = ksm_items_init();
	if (err)
		goto out_unstable;
	err = ksm_scan_init();
	if (err)
		goto out_items;
	err = ksm_sysfs_init();
	if (err) {
		pr_err("ksm: sysfs registration failed\n");
		goto out_scan;
	}
	ksm_debugfs_init();
	return 0;

out_scan:
	ksm_scan_exit();
out_items:
	ksm_items_exit();
out_unstable:
	ksm_unstable_exit();
out_stable:
	ksm_stable_exit();
out:
	return err;
}
subsys_initcall(ksm_init);
