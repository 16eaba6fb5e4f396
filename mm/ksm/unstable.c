// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the unstable table.  Pages whose checksum did not change between
 * two visits are entered here, keyed by that checksum, to be found by a
 * later page with the same content.  Their content may change at any
 * time, so a hit is only a candidate: the caller compares again once both
 * pages are write-protected.  Entries belong to one scan pass (the low
 * bits of ksm_scan.seqnr kept in the item): those of an older pass are
 * ignored, and unlinked when met, so the table starts afresh every pass
 * without being walked.  Everything here runs with ksm_mutex held.
 */
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>

#include "ksm.h"

static struct hlist_head *ksm_unstable_table;
static unsigned int ksm_unstable_bits;

static struct hlist_head *ksm_bucket(u32 checksum)
{
	return &ksm_unstable_table[hash_32(checksum, ksm_unstable_bits)];
}

void ksm_unstable_remove(struct ksm_rmap_item *item)
{
	VM_WARN_ON_ONCE(!(item->address & KSM_ITEM_UNSTABLE));
	hlist_del(&item->hash);
	item->address = ksm_item_addr(item);
	ksm_pages_unshared--;
}

/* The vma that @item's page is in, if still mergeable; its mm locked. */
struct vm_area_struct *ksm_item_vma(struct ksm_rmap_item *item)
{
	struct vm_area_struct *vma;

	vma = vma_lookup(item->mm, ksm_item_addr(item));
	if (!vma || !(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
		return NULL;
	return vma;
}

/*
 * Get a reference to the anon page @item maps now, or NULL.  The mmap_lock
 * of @locked_mm is held by the caller; any other is only tried.
 */
struct page *ksm_item_page(struct ksm_rmap_item *item,
			   struct mm_struct *locked_mm)
{
	struct mm_struct *mm = item->mm;
	struct vm_area_struct *vma;
	struct page *page = NULL;

	if (mm != locked_mm && !mmap_read_trylock(mm))
		return NULL;
	if (ksm_test_exit(mm))
		goto out;
	vma = ksm_item_vma(item);
	if (!vma)
		goto out;
	page = follow_page(vma, ksm_item_addr(item), FOLL_GET);
	if (IS_ERR_OR_NULL(page)) {
		page = NULL;
		goto out;
	}
	if (is_zone_device_page(page) || !PageAnon(page)) {
		put_page(page);
		page = NULL;
		goto out;
	}
	flush_anon_page(vma, page, ksm_item_addr(item));
	flush_dcache_page(page);
out:
	if (mm != locked_mm)
		mmap_read_unlock(mm);
	return page;
}

/*
 * Look for a page with the content of @page (mapped by @item, whose
 * checksum is current) in the table.  On a hit return its item, with a
 * reference to its page in *@tree_pagep; else enter @item and return NULL.
 */
struct ksm_rmap_item *ksm_unstable_search_insert(struct ksm_rmap_item *item,
						 struct page *page,
						 struct page **tree_pagep)
{
	unsigned long seq = ksm_scan.seqnr & KSM_ITEM_SEQ_MASK;
	struct hlist_head *bucket = ksm_bucket(item->checksum);
	struct ksm_rmap_item *titem;
	struct hlist_node *tmp;
	struct page *tpage;

	hlist_for_each_entry_safe(titem, tmp, bucket, hash) {
		if ((titem->address & KSM_ITEM_SEQ_MASK) != seq) {
			ksm_unstable_remove(titem);
			continue;
		}
		if (titem->checksum != item->checksum)
			continue;
		tpage = ksm_item_page(titem, item->mm);
		if (!tpage)
			continue;
		if (tpage == page || PageKsm(tpage) ||
		    (!ksm_merge_across_nodes &&
		     page_to_nid(tpage) != page_to_nid(page)) ||
		    memcmp_pages(page, tpage)) {
			put_page(tpage);
			continue;
		}
		*tree_pagep = tpage;
		return titem;
	}

	item->address = ksm_item_addr(item) | KSM_ITEM_UNSTABLE | seq;
	hlist_add_head(&item->hash, bucket);
	ksm_pages_unshared++;
	return NULL;
}

int __init ksm_unstable_init(void)
{
	unsigned long pages = totalram_pages();

	ksm_unstable_bits = clamp_t(int, ilog2(pages | 1) - 4, 10, 20);
	ksm_unstable_table = kvcalloc(1UL << ksm_unstable_bits,
				      sizeof(*ksm_unstable_table), GFP_KERNEL);
	return ksm_unstable_table ? 0 : -ENOMEM;
}
