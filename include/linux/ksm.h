/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel Samepage Merging: the interface seen by the rest of mm.
 *
 * An anonymous area marked MADV_MERGEABLE is scanned by ksmd; pages found
 * to hold the same content are replaced by one write-protected "KSM page",
 * which is copied again on the first write through any of its mappings.
 */
#ifndef __LINUX_KSM_H
#define __LINUX_KSM_H

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>

#ifdef CONFIG_KSM

int ksm_madvise(struct vm_area_struct *vma,
		unsigned long start, unsigned long end,
		int advice, unsigned long *vm_flags);
int __ksm_enter(struct mm_struct *mm_to_scan);
void __ksm_exit(struct mm_struct *dying_mm);

/* PR_SET_MEMORY_MERGE: every area of the process, now and to come. */
int ksm_enable_merge_any(struct mm_struct *mm);
int ksm_disable_merge_any(struct mm_struct *mm);
unsigned long ksm_vma_flags(struct mm_struct *mm, struct file *file,
			    unsigned long vm_flags);
void ksm_add_vma(struct vm_area_struct *vma);

/* The size of the profit of @mm, and whether it has a mergeable area. */
long ksm_process_profit(struct mm_struct *mm);
bool ksm_process_mergeable(struct mm_struct *mm);

/*
 * Zero pages that KSM mapped in place of pages of zeroes (use_zero_pages):
 * KSM marks their ptes dirty, which no other pte of the zero page is.  The
 * count of them all is ksm_zero_pages, each mm's is mm->ksm_zero_pages.
 * Whoever maps such a pte in another mm (fork) or takes one away (zap, a
 * write fault's copy, khugepaged) tells KSM, under the page table lock.
 */
extern atomic_long_t ksm_zero_pages;

static inline bool ksm_zero_pte(pte_t pte)
{
	return is_zero_pfn(pte_pfn(pte)) && pte_dirty(pte);
}

/* @pte, present, is about to be mapped in @mm. */
static inline void ksm_zero_pte_mapped(struct mm_struct *mm, pte_t pte)
{
	if (ksm_zero_pte(pte)) {
		atomic_long_inc(&mm->ksm_zero_pages);
		atomic_long_inc(&ksm_zero_pages);
	}
}

/* @pte, present, was just cleared or replaced in @mm. */
static inline void ksm_zero_pte_unmapped(struct mm_struct *mm, pte_t pte)
{
	if (ksm_zero_pte(pte)) {
		atomic_long_dec(&mm->ksm_zero_pages);
		atomic_long_dec(&ksm_zero_pages);
	}
}

/*
 * Called by dup_mmap(), before it copies a pte: a child of a KSM user is
 * registered as well.  The child's counts start from 0 (dup_mm() copied
 * the parent's): it has no rmap item yet, and its pages count once ksmd
 * has visited them; its KSM zero pages count as their ptes are copied.
 */
static inline int ksm_fork(struct mm_struct *child, struct mm_struct *parent)
{
	child->ksm_merging_pages = 0;
	child->ksm_rmap_items = 0;
	atomic_long_set(&child->ksm_zero_pages, 0);
	return test_bit(MMF_VM_MERGEABLE, &parent->flags) ?
		__ksm_enter(child) : 0;
}

/* Called by __mmput() before the address space is torn down. */
static inline void ksm_exit(struct mm_struct *dying_mm)
{
	if (test_bit(MMF_VM_MERGEABLE, &dying_mm->flags))
		__ksm_exit(dying_mm);
}

/*
 * A page found in the swap cache may not be usable as it is by @vma at
 * @address (a KSM page while unmerging, or an anon page whose index and
 * anon_vma do not fit); returns the page itself, a new locked copy, or NULL
 * when no copy could be allocated.
 */
struct page *ksm_might_need_to_copy(struct page *swapped_in,
				    struct vm_area_struct *vma,
				    unsigned long address);

void rmap_walk_ksm(struct folio *kfolio, struct rmap_walk_control *rwc);
void folio_migrate_ksm(struct folio *dst, struct folio *src);

#else  /* !CONFIG_KSM */

static inline int ksm_madvise(struct vm_area_struct *vma,
			      unsigned long start, unsigned long end,
			      int advice, unsigned long *vm_flags)
{
	return 0;
}

static inline int ksm_fork(struct mm_struct *child, struct mm_struct *parent)
{
	return 0;
}

static inline unsigned long ksm_vma_flags(struct mm_struct *mm,
					  struct file *file,
					  unsigned long vm_flags)
{
	return vm_flags;
}

static inline void ksm_add_vma(struct vm_area_struct *vma)
{
}

static inline bool ksm_zero_pte(pte_t pte)
{
	return false;
}

static inline void ksm_zero_pte_mapped(struct mm_struct *mm, pte_t pte)
{
}

static inline void ksm_zero_pte_unmapped(struct mm_struct *mm, pte_t pte)
{
}

static inline void ksm_exit(struct mm_struct *dying_mm)
{
}

static inline struct page *ksm_might_need_to_copy(struct page *swapped_in,
						  struct vm_area_struct *vma,
						  unsigned long address)
{
	return swapped_in;
}

static inline void rmap_walk_ksm(struct folio *kfolio,
				 struct rmap_walk_control *rwc)
{
}

static inline void folio_migrate_ksm(struct folio *dst, struct folio *src)
{
}

#endif /* CONFIG_KSM */

/* Memory cgroups tell KSM of a thread joining one, and of one going. */
struct mem_cgroup;
#if defined(CONFIG_KSM) && defined(CONFIG_MEMCG)
void ksm_memcg_attach(struct task_struct *task);
void ksm_memcg_fork(struct task_struct *task);
void ksm_memcg_forget(struct mem_cgroup *memcg);
#else
static inline void ksm_memcg_attach(struct task_struct *task)
{
}

static inline void ksm_memcg_fork(struct task_struct *task)
{
}

static inline void ksm_memcg_forget(struct mem_cgroup *memcg)
{
}
#endif

#endif /* __LINUX_KSM_H */
