// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the stable trees.  Each tree is an rbtree of write-protected KSM
 * pages ordered by merge domain, checksum and content, one per NUMA node
 * unless merge_across_nodes.
 * A tree entry is a plain node (one KSM page) or a chain of dups (several
 * KSM pages of the same content, each shared at most max_page_sharing
 * times).  Everything here runs with ksm_mutex held.
 */
#include <linux/jiffies.h>
#include <linux/memory.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/slab.h>

#include <trace/events/ksm.h>

#include "ksm.h"

static struct kmem_cache *ksm_node_cache;
static struct rb_root ksm_stable_roots[MAX_NUMNODES];

/*
 * Every node of a KSM page (plain or dup), oldest first, for the sweep at
 * the end of a pass; and the dead nodes, whose page has gone but whose
 * rmap items have not all come off yet.  ksm_sweep_pos is where the sweep
 * in progress goes on (&ksm_nodes once it is through).
 */
static LIST_HEAD(ksm_nodes);
static LIST_HEAD(ksm_dead_nodes);
static struct list_head *ksm_sweep_pos = &ksm_nodes;

/**
 * ksm_alloc_node() - allocate a stable node
 *
 * Context: ksm_mutex held; may sleep.
 * Return: a zeroed node, or NULL.
 */
struct ksm_stable_node *ksm_alloc_node(void)
{
	return kmem_cache_zalloc(ksm_node_cache, GFP_KERNEL | __GFP_NOWARN);
}

/**
 * ksm_free_node() - free a stable node
 * @node: the node, which nothing refers to any more
 *
 * Context: ksm_mutex held.
 */
void ksm_free_node(struct ksm_stable_node *node)
{
	if (node->origin)
		put_anon_vma(node->origin);
	kmem_cache_free(ksm_node_cache, node);
}

static void ksm_stable_insert(struct ksm_stable_node *node,
			      struct page *kpage);

static struct rb_root *ksm_root_of(struct ksm_stable_node *node)
{
	return &ksm_stable_roots[node->nid];
}

/*
 * A chain's dups with room come before its full ones: a lookup takes the
 * first dup whose page is still there, and has room if any has (see
 * ksm_tree_page()).  A dup moves when it fills, to the back, and when it
 * has room again, to the front: then it is as full as a dup with room
 * can be, the one whose sharers should stay and be joined.  The mappings
 * of a dup move to a fuller one with room (ksm_better_dup()), so that the
 * emptier dups empty and go away.
 */
static void ksm_dup_place(struct ksm_stable_node *dup)
{
	if (dup->nr_items >= ksm_max_page_sharing)
		list_move_tail(&dup->dup_link, &dup->chain->dups);
	else
		list_move(&dup->dup_link, &dup->chain->dups);
}

/**
 * ksm_stable_link() - link an rmap item on a stable node's rmap list
 * @item: the item, in neither tree
 * @node: the plain or dup node of the KSM page @item maps
 * @anon_vma: the anon_vma it maps the page through; a reference is taken
 *
 * Link @item, which maps the KSM page of @node through @anon_vma, on the
 * node's rmap list.
 *
 * Context: ksm_mutex held, KSM page locked (or not yet visible).
 */
void ksm_stable_link(struct ksm_rmap_item *item, struct ksm_stable_node *node,
		     struct anon_vma *anon_vma)
{
	lockdep_assert_held(&ksm_mutex);
	VM_WARN_ON_ONCE(item->address & (KSM_ITEM_STABLE | KSM_ITEM_UNSTABLE));
	get_anon_vma(anon_vma);
	item->anon_vma = anon_vma;
	item->head = node;
	item->address = ksm_item_addr(item) | KSM_ITEM_STABLE;
	hlist_add_head(&item->snode, &node->rmap_list);
	if (node->nr_items++)
		ksm_pages_sharing++;
	else
		ksm_pages_shared++;
	item->mm->ksm_merging_pages++;
	if (node->kind == KSM_NODE_DUP &&
	    node->nr_items == ksm_max_page_sharing)
		ksm_dup_place(node);
}

/* Take @item off @node's list; the KSM page locked, or gone. */
static void ksm_detach_item(struct ksm_stable_node *node,
			    struct ksm_rmap_item *item)
{
	trace_ksm_remove_rmap_item(node->kpfn, item, item->mm);
	hlist_del_init(&item->snode);
	if (--node->nr_items)
		ksm_pages_sharing--;
	else
		ksm_pages_shared--;
	item->mm->ksm_merging_pages--;
	if (node->kind == KSM_NODE_DUP &&
	    node->nr_items + 1 == ksm_max_page_sharing)
		ksm_dup_place(node);
	put_anon_vma(item->anon_vma);
	item->head = NULL;
	item->anon_vma = NULL;
	item->checksum = 0;
	item->address = ksm_item_addr(item) | KSM_ITEM_FRESH;
	if (node->kind == KSM_NODE_DEAD && !node->nr_items) {
		list_del(&node->link);
		ksm_free_node(node);
	}
}

/* Take @node off ksm_nodes, keeping the sweep's place. */
static void ksm_unlist_node(struct ksm_stable_node *node)
{
	if (ksm_sweep_pos == &node->link)
		ksm_sweep_pos = node->link.next;
	list_del(&node->link);
}

/*
 * The KSM page of @node has gone (or was let go of): take the node out of
 * its tree or chain at once.  A node left with rmap items is dead until
 * they are off: each comes off at its next visit, or in ksm_drain_dead()'s
 * bounded batches, never all at once under ksm_mutex (a page may have been
 * mapped tens of thousands of times).  An empty chain is left for
 * ksm_chain_tidy() to free.
 */
static void ksm_node_gone(struct ksm_stable_node *node)
{
	trace_ksm_remove_ksm_page(node->kpfn);
	if (node->kind == KSM_NODE_DUP) {
		list_del(&node->dup_link);
		ksm_stable_node_dups--;
	} else {
		rb_erase(&node->rb, ksm_root_of(node));
	}
	ksm_unlist_node(node);
	if (!node->nr_items) {
		ksm_free_node(node);
		return;
	}
	node->kind = KSM_NODE_DEAD;
	list_add_tail(&node->link, &ksm_dead_nodes);
}

/**
 * ksm_drain_dead() - take rmap items off dead stable nodes
 * @max: how many at most
 *
 * Context: ksm_mutex held.
 * Return: true once no dead node is left.
 */
bool ksm_drain_dead(unsigned int max)
{
	struct ksm_stable_node *node;

	lockdep_assert_held(&ksm_mutex);
	while (!list_empty(&ksm_dead_nodes)) {
		if (!max--)
			return false;
		node = list_first_entry(&ksm_dead_nodes,
					struct ksm_stable_node, link);
		ksm_detach_item(node, hlist_entry(node->rmap_list.first,
						  struct ksm_rmap_item, snode));
	}
	return true;
}

enum ksm_get_mode { KSM_GET_NOLOCK, KSM_GET_LOCK };

/**
 * ksm_get_page() - get the KSM page of a stable node
 * @node: a plain or dup node
 * @mode: KSM_GET_LOCK to lock the page too, else KSM_GET_NOLOCK
 * @stale: set if the node is stale
 *
 * Get a reference to the KSM page of plain or dup @node, locked for
 * KSM_GET_LOCK.  A node whose page has been freed is stale: it leaves its
 * tree (*@stale set, see ksm_node_gone()) and NULL is returned.  NULL
 * without *@stale means the page is unavailable for a moment (its refcount
 * frozen in the swap cache, or for KSM_GET_LOCK its lock held by another
 * task): see ksm_lock_page_of().
 *
 * page->mapping of the KSM page points at the node until the page is
 * freed; a migrated KSM page keeps it too, so the pfn is checked against
 * node->kpfn again once the page is pinned, and locked.
 *
 * Context: ksm_mutex held.
 * Return: the page, referenced (and locked for KSM_GET_LOCK), or NULL.
 */
static struct page *ksm_get_page(struct ksm_stable_node *node,
				 enum ksm_get_mode mode, bool *stale)
{
	void *want = (void *)((unsigned long)node | PAGE_MAPPING_KSM);
	unsigned long kpfn;
	struct page *page;

	lockdep_assert_held(&ksm_mutex);
	*stale = false;
retry:
	kpfn = READ_ONCE(node->kpfn);
	page = pfn_to_page(kpfn);
	if (READ_ONCE(page->mapping) != want)
		goto gone;
	if (!get_page_unless_zero(page)) {
		/*
		 * Only the swap cache freezes the refcount of a KSM page, for
		 * the moment it takes reclaim or migration to move it: wait.
		 * Any other page with no reference is being freed, and may
		 * keep its mapping for good (a poisoned page does): stale.
		 */
		if (!PageSwapCache(page))
			goto gone;
		/* Pairs with smp_wmb() in folio_migrate_ksm(). */
		smp_rmb();
		if (READ_ONCE(node->kpfn) != kpfn)
			goto retry;
		return NULL;
	}
	/* Pairs with smp_wmb() in folio_migrate_ksm(). */
	smp_rmb();
	if (READ_ONCE(page->mapping) != want ||
	    READ_ONCE(node->kpfn) != kpfn) {
		put_page(page);
		goto gone;
	}
	if (mode == KSM_GET_LOCK) {
		/*
		 * Never sleep on the lock with the reference held: migration
		 * holds it while it expects no other reference, and would
		 * fail attempt after attempt.  The caller waits without it.
		 */
		if (!trylock_page(page)) {
			put_page(page);
			return NULL;
		}
		if (READ_ONCE(page->mapping) != want ||
		    READ_ONCE(node->kpfn) != kpfn) {
			unlock_page(page);
			put_page(page);
			goto gone;
		}
	}
	return page;

gone:
	/* Pairs with smp_wmb() in folio_migrate_ksm(). */
	smp_rmb();
	if (READ_ONCE(node->kpfn) != kpfn)
		goto retry;
	ksm_node_gone(node);
	*stale = true;
	return NULL;
}

/*
 * ksm_get_page(KSM_GET_LOCK) until the page is locked or the node stale.
 * While the page is unavailable no reference to it is held: a yield or two
 * first (a frozen refcount lasts a moment), then a tick at a time (the lock
 * holder may sleep, as migration does to allocate).
 */
static struct page *ksm_lock_page_of(struct ksm_stable_node *node,
				     bool *stale)
{
	unsigned int tries = 0;
	struct page *page;

	while (!(page = ksm_get_page(node, KSM_GET_LOCK, stale)) && !*stale) {
		if (++tries <= 2)
			cond_resched();
		else
			schedule_timeout_uninterruptible(1);
	}
	return page;
}

/*
 * Free an empty chain; when @prune, also turn a chain of a single dup back
 * into a plain node.  Returns true if @chain is gone.
 */
static bool ksm_chain_tidy(struct ksm_stable_node *chain, bool prune)
{
	struct ksm_stable_node *dup;
	struct rb_root *root = ksm_root_of(chain);

	if (list_empty(&chain->dups)) {
		rb_erase(&chain->rb, root);
	} else if (prune && list_is_singular(&chain->dups)) {
		dup = list_first_entry(&chain->dups, struct ksm_stable_node,
				       dup_link);
		list_del(&dup->dup_link);
		rb_replace_node(&chain->rb, &dup->rb, root);
		dup->kind = KSM_NODE_PLAIN;
		dup->nid = chain->nid;
		ksm_stable_node_dups--;
	} else {
		return false;
	}
	ksm_stable_node_chains--;
	ksm_free_node(chain);
	return true;
}

/*
 * With merge_across_nodes 0 a KSM page belongs in the tree of its node: one
 * that migration took to another node is moved to that node's tree, so
 * that pages of its old node no longer merge into a remote page.
 */
static bool ksm_misplaced(struct ksm_stable_node *node, struct page *page)
{
	return !ksm_merge_across_nodes && page_to_nid(page) != node->nid;
}

static void ksm_rehome(struct ksm_stable_node *node, struct page *page)
{
	if (node->kind == KSM_NODE_DUP) {
		list_del(&node->dup_link);
		ksm_stable_node_dups--;
	} else {
		rb_erase(&node->rb, ksm_root_of(node));
	}
	node->nid = page_to_nid(page);
	ksm_stable_insert(node, page);
}

/* Is it time to look at every dup of @chain (prune_millisecs)? */
static bool ksm_prune_due(const struct ksm_stable_node *chain)
{
	return time_after_eq(jiffies, chain->pruned +
			     msecs_to_jiffies(READ_ONCE(ksm_prune_ms)));
}

#define KSM_PRUNE_SCAN	256	/* dups a pruning lookup looks at, at most */

/*
 * Get a referenced page of tree entry @tnode to compare contents with, and
 * in *@room the plain or dup node that can take one more mapping, if any.
 * Returns NULL with *@restart set if the tree changed under the caller;
 * when @rehome, KSM pages found on the wrong node are moved (restart).
 * A KSM page that memory failure marked poisoned stays where it is mapped
 * (it cannot take a KSM page away) but takes no new mapping: it counts as
 * full, and a dup of it is returned only if no other dup has a page.
 */
static struct page *ksm_tree_page(struct ksm_stable_node *tnode,
				  struct ksm_stable_node **room, bool *restart,
				  bool rehome)
{
	struct ksm_stable_node *dup, *tmp;
	struct page *page, *best = NULL, *poisoned = NULL;
	bool prune, stale, moved = false;
	unsigned int seen = 0;

	*room = NULL;
	*restart = false;
	if (tnode->kind == KSM_NODE_PLAIN) {
		page = ksm_get_page(tnode, KSM_GET_NOLOCK, &stale);
		if (page && rehome && ksm_misplaced(tnode, page)) {
			ksm_rehome(tnode, page);
			put_page(page);
			*restart = true;
			return NULL;
		}
		if (page && tnode->nr_items < ksm_max_page_sharing &&
		    !PageHWPoison(page))
			*room = tnode;
		*restart = stale;
		return page;
	}

	/*
	 * The first dup whose page is there: if it is full, so are the ones
	 * after it (ksm_dup_place()).  Pruning looks at up to KSM_PRUNE_SCAN
	 * dups, so that those whose page went come off, and KSM pages on the
	 * wrong node move; the sweep at the end of each pass looks at every
	 * dup, in bounded steps.  A dup is only used once looked at.
	 */
	prune = ksm_prune_due(tnode);
	if (prune)
		tnode->pruned = jiffies;
	list_for_each_entry_safe(dup, tmp, &tnode->dups, dup_link) {
		if (best && seen++ >= KSM_PRUNE_SCAN)
			break;
		page = ksm_get_page(dup, KSM_GET_NOLOCK, &stale);
		if (!page) {
			/* Stale dups are not counted: as many as pages went. */
			cond_resched();
			continue;
		}
		if (rehome && ksm_misplaced(dup, page)) {
			ksm_rehome(dup, page);
			put_page(page);
			moved = true;
			continue;
		}
		if (PageHWPoison(page)) {
			if (best || poisoned)
				put_page(page);
			else
				poisoned = page;
			continue;
		}
		if (best) {
			put_page(page);
			continue;
		}
		best = page;
		if (dup->nr_items < ksm_max_page_sharing)
			*room = dup;
		if (!prune)
			break;
	}
	/*
	 * Only poisoned dups left: the content is there, full.  NULL would
	 * say the chain changed under the caller, who would look again.
	 */
	if (!best)
		swap(best, poisoned);
	if (poisoned)
		put_page(poisoned);
	if (ksm_chain_tidy(tnode, prune) || moved) {
		if (best)
			put_page(best);
		*room = NULL;
		*restart = true;
		return NULL;
	}
	return best;
}

/*
 * The order of a tree: by merge domain, then by checksum, then by content.
 * Only entries this leaves equal have their pages looked at: a search
 * compares (and takes a reference to) one KSM page, not one per level.
 */
static int ksm_key_cmp(u64 domain, u32 checksum,
		       const struct ksm_stable_node *tnode)
{
	if (domain != tnode->domain)
		return domain < tnode->domain ? -1 : 1;
	if (checksum != tnode->checksum)
		return checksum < tnode->checksum ? -1 : 1;
	return 0;
}

/* Is @n the only entry of its tree with key (@domain, @checksum)? */
static bool ksm_key_alone(struct rb_node *n, u64 domain, u32 checksum)
{
	struct rb_node *prev = rb_prev(n), *next = rb_next(n);

	return (!prev || ksm_key_cmp(domain, checksum,
				     rb_entry(prev, struct ksm_stable_node, rb))) &&
	       (!next || ksm_key_cmp(domain, checksum,
				     rb_entry(next, struct ksm_stable_node, rb)));
}

/**
 * ksm_stable_search() - look for a KSM page with the content of a page
 * @page: the page
 * @checksum: ksm_calc_checksum() of @page, taken on this visit
 * @domain: its merge domain (domain.c)
 * @nodep: set to the node to link a new mapping to, or NULL
 *
 * Look in the stable tree @page belongs in, among the KSM pages of
 * @domain.  A KSM page whose nodes are all full is returned with *@nodep
 * NULL.  Only entries with @page's checksum have their KSM pages looked
 * at: a stale one leaves the tree, one found on the wrong NUMA node moves
 * to the tree of its node.  A chain met on the way is pruned when due.
 *
 * The only entry with @page's key is returned without a compare of the
 * contents: they differ only if @page changed since @checksum was taken
 * or two contents share a checksum, and the merge compares them anyway,
 * once nothing can write @page (its pte cleared or write-protected).
 * Not for a page of a THP: the merge splits it before that compare, and
 * a collision must not split a THP.
 * Entries that share a key are told apart by content, here as in the
 * tree's order.
 *
 * Context: ksm_mutex held.
 * Return: the KSM page, referenced, or NULL.  Its content is @page's
 * only if the caller's compare says so: ksm_merge_many() makes it.
 */
struct page *ksm_stable_search(struct page *page, u32 checksum, u64 domain,
			       struct ksm_stable_node **nodep)
{
	struct rb_root *root = &ksm_stable_roots[ksm_tree_nid(page)];
	struct ksm_stable_node *tnode, *room;
	struct page *tpage;
	struct rb_node *n;
	bool restart;
	int cmp;

	lockdep_assert_held(&ksm_mutex);
again:
	*nodep = NULL;
	n = root->rb_node;
	while (n) {
		tnode = rb_entry(n, struct ksm_stable_node, rb);
		cmp = ksm_key_cmp(domain, checksum, tnode);
		if (cmp) {
			/*
			 * A chain the search meets is pruned when due, as one
			 * of the page's content would be: the admin guide's
			 * "when it meets it during a search".
			 */
			if (tnode->kind == KSM_NODE_CHAIN &&
			    ksm_prune_due(tnode)) {
				tpage = ksm_tree_page(tnode, &room, &restart,
						      true);
				if (tpage)
					put_page(tpage);
				if (restart)
					goto again;
			}
			n = cmp < 0 ? n->rb_left : n->rb_right;
			continue;
		}
		tpage = ksm_tree_page(tnode, &room, &restart, true);
		if (restart)
			goto again;
		if (!tpage)
			return NULL;
		if (!PageTransCompound(page) &&
		    ksm_key_alone(n, domain, checksum)) {
			*nodep = room;
			return tpage;
		}
		cmp = ksm_cmp_pages(page, tpage);
		if (!cmp) {
			*nodep = room;
			return tpage;
		}
		put_page(tpage);
		n = cmp < 0 ? n->rb_left : n->rb_right;
	}
	return NULL;
}

#define KSM_DUP_SCAN	16	/* dups ksm_better_dup() looks at, at most */

/**
 * ksm_better_dup() - a dup of the chain with room, at least as full
 * @node: the stable node an item's mapping is in
 * @roomp: set to the dup found, if any
 *
 * The mapping of an item is in dup @node of a chain: if one of the first
 * KSM_DUP_SCAN dups, other than @node, has room and at least as many
 * mappings as @node, return its KSM page, referenced, and the dup in
 * *@roomp.  Each such move makes the fuller dup fuller, so mappings do not
 * go back and forth.  The dups with room come first (ksm_dup_place()):
 * the look stops at the first full one, and the bound keeps a visit cheap
 * on a chain of many dups with room.
 *
 * Context: ksm_mutex held.
 * Return: the KSM page of *@roomp, referenced; NULL if none was found, or
 * @node is not a dup.
 */
struct page *ksm_better_dup(struct ksm_stable_node *node,
			    struct ksm_stable_node **roomp)
{
	struct ksm_stable_node *dup, *tmp;
	unsigned int seen = 0;
	struct page *page;
	bool stale;

	lockdep_assert_held(&ksm_mutex);
	if (node->kind != KSM_NODE_DUP)
		return NULL;
	list_for_each_entry_safe(dup, tmp, &node->chain->dups, dup_link) {
		if (seen++ == KSM_DUP_SCAN ||
		    dup->nr_items >= ksm_max_page_sharing)
			return NULL;
		if (dup == node || dup->nr_items < node->nr_items)
			continue;
		page = ksm_get_page(dup, KSM_GET_NOLOCK, &stale);
		if (page && (ksm_misplaced(dup, page) || PageHWPoison(page))) {
			put_page(page);
			continue;
		}
		if (page) {
			*roomp = dup;
			return page;
		}
	}
	return NULL;
}

/* Make @node a dup of tree entry @tnode, turning @tnode into a chain. */
static bool ksm_add_dup(struct ksm_stable_node *tnode,
			struct ksm_stable_node *node)
{
	struct ksm_stable_node *chain = tnode;

	if (tnode->kind == KSM_NODE_PLAIN) {
		chain = ksm_alloc_node();
		if (!chain)
			return false;
		chain->kind = KSM_NODE_CHAIN;
		chain->nid = tnode->nid;
		chain->domain = tnode->domain;
		chain->checksum = tnode->checksum;
		chain->pruned = jiffies;
		INIT_LIST_HEAD(&chain->dups);
		rb_replace_node(&tnode->rb, &chain->rb, ksm_root_of(tnode));
		tnode->kind = KSM_NODE_DUP;
		tnode->chain = chain;
		list_add_tail(&tnode->dup_link, &chain->dups);
		ksm_stable_node_chains++;
		ksm_stable_node_dups++;
	}
	node->kind = KSM_NODE_DUP;
	node->chain = chain;
	list_add_tail(&node->dup_link, &chain->dups);
	ksm_dup_place(node);
	ksm_stable_node_dups++;
	return true;
}

/*
 * Insert new plain @node, whose KSM page @kpage, domain and checksum are
 * already set up, in its stable tree.  If an entry with the same content
 * exists, @node joins it as a dup; if no chain can be allocated, it goes
 * in as an equal entry.
 */
static void ksm_stable_insert(struct ksm_stable_node *node,
			      struct page *kpage)
{
	struct rb_root *root = ksm_root_of(node);
	struct ksm_stable_node *tnode, *room;
	struct rb_node **link, *parent;
	struct page *tpage;
	bool restart;
	int cmp;

again:
	link = &root->rb_node;
	parent = NULL;
	while (*link) {
		parent = *link;
		tnode = rb_entry(parent, struct ksm_stable_node, rb);
		cmp = ksm_key_cmp(node->domain, node->checksum, tnode);
		if (cmp) {
			link = cmp < 0 ? &parent->rb_left : &parent->rb_right;
			continue;
		}
		tpage = ksm_tree_page(tnode, &room, &restart, false);
		if (!tpage) {
			/* Changed, or frozen for a moment: look again. */
			cond_resched();
			goto again;
		}
		cmp = ksm_cmp_pages(kpage, tpage);
		put_page(tpage);
		if (!cmp && ksm_add_dup(tnode, node))
			return;
		link = cmp < 0 ? &parent->rb_left : &parent->rb_right;
	}
	node->kind = KSM_NODE_PLAIN;
	rb_link_node(&node->rb, parent, link);
	rb_insert_color(&node->rb, root);
}

/**
 * ksm_stable_add() - publish a new stable node
 * @node: the new plain node
 * @kpage: its KSM page
 *
 * Insert new plain @node, whose KSM page @kpage (write-protected), domain
 * and checksum are set up, in its stable tree, and in the list the sweep at
 * the end of a pass goes through.
 *
 * Context: ksm_mutex held.
 */
void ksm_stable_add(struct ksm_stable_node *node, struct page *kpage)
{
	lockdep_assert_held(&ksm_mutex);
	list_add_tail(&node->link, &ksm_nodes);
	ksm_stable_insert(node, kpage);
}

/**
 * ksm_stable_unlink_locked() - take an rmap item off its stable node
 * @item: the item
 *
 * Context: ksm_mutex held; the node's KSM page locked by the caller.
 */
void ksm_stable_unlink_locked(struct ksm_rmap_item *item)
{
	lockdep_assert_held(&ksm_mutex);
	ksm_detach_item(item->head, item);
}

/**
 * ksm_stable_unlink() - take an rmap item off its stable node
 * @item: the item
 *
 * Take @item off its stable node (ksm_mutex held, KSM page not locked).
 * If the KSM page turns out to be gone, the node dies (ksm_node_gone()).
 * The chain the node was a dup of, if any, is freed once empty.
 *
 * Context: ksm_mutex held, the KSM page not locked; may sleep, waiting for
 * the page lock.
 */
void ksm_stable_unlink(struct ksm_rmap_item *item)
{
	struct ksm_stable_node *node = item->head;
	struct ksm_stable_node *chain = NULL;
	struct page *page;
	bool stale;

	lockdep_assert_held(&ksm_mutex);
	/* Its page is gone: no rmap walker reads a dead node's list. */
	if (node->kind == KSM_NODE_DEAD) {
		ksm_detach_item(node, item);
		return;
	}
	if (node->kind == KSM_NODE_DUP)
		chain = node->chain;
	/*
	 * The list may only change under the page lock (an rmap walk of a
	 * page under migration or reclaim may come right after its refcount
	 * was frozen): wait until the page can be locked, or is gone.
	 */
	page = ksm_lock_page_of(node, &stale);
	ksm_detach_item(node, item);
	if (page) {
		unlock_page(page);
		put_page(page);
	}
	if (chain)
		ksm_chain_tidy(chain, false);
}

/*
 * Let @node go if its KSM page has gone, or if the page it names lies in
 * [@start_pfn, @end_pfn).  When @release, also let go of a KSM page that
 * no pte maps any more and no rmap item names, only waiting to be freed
 * (in the swap cache, in a per-cpu batch): it stays a KSM page without a
 * node, which a swapin copies, and its node goes.  One that items still
 * name stays: its mappings may be swap entries, each of which would come
 * back as a copy of its own.  Then tidy the chain @node was a dup of, if
 * any, pruning it when @prune.
 */
static void ksm_sweep_node(struct ksm_stable_node *node,
			   unsigned long start_pfn, unsigned long end_pfn,
			   bool release, bool prune)
{
	struct ksm_stable_node *chain = NULL;
	struct page *page;
	bool stale;

	if (node->kind == KSM_NODE_DUP)
		chain = node->chain;
	if (node->kpfn >= start_pfn && node->kpfn < end_pfn) {
		ksm_node_gone(node);
		goto tidy;
	}
	if (release)
		page = ksm_lock_page_of(node, &stale);
	else
		page = ksm_get_page(node, KSM_GET_NOLOCK, &stale);
	if (!page)
		goto tidy;
	if (release) {
		if (!page_mapped(page) && !node->nr_items) {
			ksm_folio_set_node(page_folio(page), NULL);
			ksm_node_gone(node);
		}
		unlock_page(page);
	}
	put_page(page);
tidy:
	if (!chain)
		return;
	if (prune)
		chain->pruned = jiffies;
	ksm_chain_tidy(chain, prune);
}

#ifdef CONFIG_MEMORY_HOTREMOVE
/* Let go of the nodes of KSM pages in [@start_pfn, @end_pfn), or gone. */
static void ksm_sweep_offline(unsigned long start_pfn, unsigned long end_pfn)
{
	struct ksm_stable_node *node, *tmp;

	list_for_each_entry_safe(node, tmp, &ksm_nodes, link) {
		ksm_sweep_node(node, start_pfn, end_pfn, false, false);
		cond_resched();
	}
}
#endif

/*
 * Go on with the sweep at ksm_sweep_pos through at most @max nodes, see
 * ksm_sweep_node(): releasing unmapped KSM pages when @release, pruning
 * chains otherwise.  Return: true once the sweep has been through every
 * node.
 */
static bool ksm_sweep_nodes(unsigned int max, bool release)
{
	struct ksm_stable_node *node;

	while (ksm_sweep_pos != &ksm_nodes) {
		if (!max--)
			return false;
		node = list_entry(ksm_sweep_pos, struct ksm_stable_node, link);
		ksm_sweep_pos = node->link.next;
		ksm_sweep_node(node, 0, 0, release, !release);
	}
	return true;
}

/**
 * ksm_sweep_start() - start the sweep that ends a pass
 *
 * The sweep visits every KSM page's node, over several calls of
 * ksm_sweep_some(), so that a node whose page went after the pass visited
 * its items leaves the counters before the pass is counted.
 *
 * Context: ksm_mutex held.
 */
void ksm_sweep_start(void)
{
	lockdep_assert_held(&ksm_mutex);
	ksm_sweep_pos = ksm_nodes.next;
}

/**
 * ksm_sweep_some() - go on with the sweep that ends a pass
 * @max: how many nodes to look at, at most
 *
 * Chains are pruned on the way.
 *
 * Context: ksm_mutex held.
 * Return: true once the sweep has been through every node.
 */
bool ksm_sweep_some(unsigned int max)
{
	lockdep_assert_held(&ksm_mutex);
	return ksm_sweep_nodes(max, false);
}

/**
 * ksm_release_unmapped() - let go of every KSM page that nothing maps
 *
 * After everything was unmerged, or before a setting changes that needs no
 * KSM pages: sweep every node, let go of the KSM pages that no pte maps,
 * and take every rmap item off the dead nodes.  The time it takes grows
 * with the KSM pages and their mappings (only root's run = 2 and settings
 * call it), so it lets go of ksm_mutex between two nodes, and between two
 * batches of items, when another task waits (ksm_lock_break()): with the
 * sweep of the end of a pass, whose place it takes, kept out by
 * ksm_pass_mutex.
 *
 * Context: ksm_pass_mutex and ksm_mutex held; ksm_mutex let go of and
 * taken again on the way.
 */
void ksm_release_unmapped(void)
{
	lockdep_assert_held(&ksm_pass_mutex);
	ksm_sweep_start();
	/* One node at a time: each may wait for its page lock. */
	while (!ksm_sweep_nodes(1, true))
		ksm_lock_break();
	while (!ksm_drain_dead(KSM_DRAIN_BATCH))
		ksm_lock_break();
}

/* Nodes ksm_origin_next() looks at before it lets the caller break. */
#define KSM_ORIGIN_LOOK	64

/**
 * ksm_origin_next() - the next KSM page left to its origin
 * @pagep: set to the page, locked and referenced, or NULL
 * @originp: set to its node's origin, referenced (get_anon_vma()), or NULL
 *
 * Go on with the sweep (ksm_sweep_start()) through at most
 * KSM_ORIGIN_LOOK nodes, to the next KSM page that no rmap item names but
 * that is still mapped, through its origin: by mms of the fork that shared
 * the page before it became a KSM page, in areas ksmd may never scan
 * (ksm_merge_pair()).  The caller unshares those mappings without
 * ksm_mutex, then lets go of the page and the origin.
 *
 * Context: ksm_pass_mutex and ksm_mutex held; may sleep, waiting for a
 * page lock.
 * Return: false once the sweep has been through every node; else true,
 * with *@pagep NULL if there was no such page in the nodes looked at.
 */
bool ksm_origin_next(struct page **pagep, struct anon_vma **originp)
{
	struct ksm_stable_node *node, *chain;
	struct page *page;
	unsigned int n;
	bool stale;

	lockdep_assert_held(&ksm_pass_mutex);
	lockdep_assert_held(&ksm_mutex);
	*pagep = NULL;
	*originp = NULL;
	for (n = 0; n < KSM_ORIGIN_LOOK; n++) {
		if (ksm_sweep_pos == &ksm_nodes)
			return false;
		node = list_entry(ksm_sweep_pos, struct ksm_stable_node, link);
		ksm_sweep_pos = node->link.next;
		if (!node->origin || node->nr_items)
			continue;
		chain = node->kind == KSM_NODE_DUP ? node->chain : NULL;
		page = ksm_lock_page_of(node, &stale);
		if (!page) {
			/* Gone, and its node with it: an empty chain goes too. */
			if (chain)
				ksm_chain_tidy(chain, false);
			continue;
		}
		if (!page_mapped(page)) {
			unlock_page(page);
			put_page(page);
			continue;
		}
		get_anon_vma(node->origin);
		*originp = node->origin;
		*pagep = page;
		return true;
	}
	return true;
}

/**
 * ksm_stable_empty() - are the stable trees empty?
 *
 * Context: ksm_mutex held.
 * Return: true if no stable tree holds a node.
 */
bool ksm_stable_empty(void)
{
	int nid;

	lockdep_assert_held(&ksm_mutex);
	for (nid = 0; nid < MAX_NUMNODES; nid++)
		if (!RB_EMPTY_ROOT(&ksm_stable_roots[nid]))
			return false;
	return true;
}

#ifdef CONFIG_MEMORY_HOTREMOVE
/*
 * Memory that went offline holds no live KSM page (each one was migrated
 * away, and its node's kpfn moved with it), so a node that still names a
 * pfn there is stale: remove it before the memmap behind the pfn can go.
 */
static int ksm_memory_callback(struct notifier_block *nb,
			       unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;

	if (action != MEM_OFFLINE)
		return NOTIFY_OK;
	ksm_lock();
	ksm_sweep_offline(mn->start_pfn, mn->start_pfn + mn->nr_pages);
	mutex_unlock(&ksm_mutex);
	return NOTIFY_OK;
}

static struct notifier_block ksm_memory_nb = {
	.notifier_call = ksm_memory_callback,
	.priority = 100,
};
#endif

/**
 * ksm_stable_init() - set up the stable trees
 *
 * With memory hotremove, also listen for memory going offline: the nodes
 * that name a pfn there are stale.
 *
 * Context: boot, from ksm_init().
 * Return: 0, or -ENOMEM.
 */
int __init ksm_stable_init(void)
{
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++)
		ksm_stable_roots[nid] = RB_ROOT;
	ksm_node_cache = KMEM_CACHE(ksm_stable_node, 0);
	if (!ksm_node_cache)
		return -ENOMEM;
#ifdef CONFIG_MEMORY_HOTREMOVE
	register_memory_notifier(&ksm_memory_nb);
#endif
	return 0;
}

/**
 * ksm_stable_exit() - undo ksm_stable_init()
 *
 * Context: boot, when a later step of ksm_init() failed.
 */
void __init ksm_stable_exit(void)
{
#ifdef CONFIG_MEMORY_HOTREMOVE
	unregister_memory_notifier(&ksm_memory_nb);
#endif
	kmem_cache_destroy(ksm_node_cache);
}

#include "stable-test.h"
