/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of stable.c: the life of a tree entry without pages.  A
 * plain node that gets a second KSM page of its content becomes a chain of
 * two dups; a chain left with one dup turns back into a plain node when
 * pruned, and an empty chain goes; a node whose page went dies while rmap
 * items still point at it, and each of them comes off.  Every step is
 * checked with pages_shared, pages_sharing, stable_node_chains,
 * stable_node_dups and ksm_merging_pages.
 *
 * The nodes go into the stable tree of node 0, as its leftmost entries:
 * nothing compares their pages, since ksm_mutex is held throughout.  At
 * boot, when KUnit runs, that tree is empty and ksmd stopped.  Nothing
 * may abort between mutex_lock() and mutex_unlock(): only KUNIT_EXPECT
 * there.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_STABLE_TEST_H
#define _MM_KSM_STABLE_TEST_H

#include <kunit/test.h>

struct ksm_test_counts {
	unsigned long shared, sharing, chains, dups;
};

static struct ksm_test_counts ksm_test_counts(void)
{
	struct ksm_test_counts c = {
		ksm_pages_shared, ksm_pages_sharing,
		ksm_stable_node_chains, ksm_stable_node_dups,
	};

	return c;
}

/* The counters moved by exactly @d* since @c0. */
static void ksm_test_expect_moved(struct kunit *test,
				  const struct ksm_test_counts *c0,
				  long dshared, long dsharing, long dchains,
				  long ddups)
{
	struct ksm_test_counts c = ksm_test_counts();

	KUNIT_EXPECT_EQ_MSG(test, (long)(c.shared - c0->shared), dshared,
			    "pages_shared");
	KUNIT_EXPECT_EQ_MSG(test, (long)(c.sharing - c0->sharing), dsharing,
			    "pages_sharing");
	KUNIT_EXPECT_EQ_MSG(test, (long)(c.chains - c0->chains), dchains,
			    "stable_node_chains");
	KUNIT_EXPECT_EQ_MSG(test, (long)(c.dups - c0->dups), ddups,
			    "stable_node_dups");
}

/* A new node of node 0's tree, on no list yet. */
static struct ksm_stable_node *ksm_test_node(void)
{
	struct ksm_stable_node *node = ksm_alloc_node();

	if (node) {
		INIT_HLIST_HEAD(&node->rmap_list);
		INIT_LIST_HEAD(&node->link);
	}
	return node;
}

/* A new plain node as the leftmost entry of the tree of node 0. */
static struct ksm_stable_node *ksm_test_plain(void)
{
	struct ksm_stable_node *node = ksm_test_node();
	struct rb_node **link, *parent = NULL;
	struct rb_root *root;

	if (!node)
		return NULL;
	node->kind = KSM_NODE_PLAIN;
	root = ksm_root_of(node);
	for (link = &root->rb_node; *link; link = &parent->rb_left)
		parent = *link;
	rb_link_node(&node->rb, parent, link);
	rb_insert_color(&node->rb, root);
	return node;
}

static struct ksm_stable_node *ksm_test_leftmost(void)
{
	struct rb_node *rb = rb_first(&ksm_stable_roots[0]);

	return rb ? rb_entry(rb, struct ksm_stable_node, rb) : NULL;
}

/* Take the first @n nodes of @node out of their tree, and free them. */
static void ksm_test_remove(struct ksm_stable_node **node, unsigned int n)
{
	while (n--) {
		rb_erase(&node[n]->rb, ksm_root_of(node[n]));
		ksm_free_node(node[n]);
	}
}

static struct ksm_stable_node *
ksm_test_first_dup(struct ksm_stable_node *chain)
{
	return list_first_entry(&chain->dups, struct ksm_stable_node,
				dup_link);
}

static struct ksm_stable_node *ksm_test_last_dup(struct ksm_stable_node *chain)
{
	return list_last_entry(&chain->dups, struct ksm_stable_node, dup_link);
}

/* Plain -> chain of dups -> pruned back to plain -> gone. */
static void ksm_test_chain_life(struct kunit *test)
{
	struct ksm_stable_node *a, *b, *c, *chain;
	struct ksm_test_counts c0;

	mutex_lock(&ksm_mutex);
	c0 = ksm_test_counts();
	a = ksm_test_plain();
	b = ksm_test_node();
	c = ksm_test_node();
	/* A second page of a's content: a chain takes a's place. */
	if (!a || !b || !c || !ksm_add_dup(a, b)) {
		KUNIT_FAIL(test, "no memory for stable nodes");
		goto out;
	}
	chain = ksm_test_leftmost();
	KUNIT_EXPECT_PTR_NE(test, chain, a);
	KUNIT_EXPECT_EQ(test, chain->kind, KSM_NODE_CHAIN);
	KUNIT_EXPECT_EQ(test, a->kind, KSM_NODE_DUP);
	KUNIT_EXPECT_EQ(test, b->kind, KSM_NODE_DUP);
	KUNIT_EXPECT_PTR_EQ(test, a->chain, chain);
	KUNIT_EXPECT_PTR_EQ(test, b->chain, chain);
	ksm_test_expect_moved(test, &c0, 0, 0, 1, 2);

	/* A full dup goes after those with room. */
	a->nr_items = ksm_max_page_sharing;
	ksm_dup_place(a);
	KUNIT_EXPECT_PTR_EQ(test, ksm_test_first_dup(chain), b);
	KUNIT_EXPECT_PTR_EQ(test, ksm_test_last_dup(chain), a);

	/* A third joins the chain, which stays the tree's entry. */
	KUNIT_EXPECT_TRUE(test, ksm_add_dup(chain, c));
	KUNIT_EXPECT_PTR_EQ(test, ksm_test_leftmost(), chain);
	KUNIT_EXPECT_PTR_EQ(test, c->chain, chain);
	KUNIT_EXPECT_PTR_EQ(test, ksm_test_last_dup(chain), a);
	ksm_test_expect_moved(test, &c0, 0, 0, 1, 3);

	/* With room again, it goes first: the fullest with room. */
	a->nr_items--;
	ksm_dup_place(a);
	KUNIT_EXPECT_PTR_EQ(test, ksm_test_first_dup(chain), a);
	a->nr_items = 0;

	/* Two dups go; a chain of one is kept until pruned. */
	ksm_node_gone(c);
	ksm_node_gone(a);
	ksm_test_expect_moved(test, &c0, 0, 0, 1, 1);
	KUNIT_EXPECT_FALSE(test, ksm_chain_tidy(chain, false));
	KUNIT_EXPECT_PTR_EQ(test, ksm_test_leftmost(), chain);
	ksm_test_expect_moved(test, &c0, 0, 0, 1, 1);

	/* Pruned: its last dup takes its place as a plain node. */
	KUNIT_EXPECT_TRUE(test, ksm_chain_tidy(chain, true));
	KUNIT_EXPECT_PTR_EQ(test, ksm_test_leftmost(), b);
	KUNIT_EXPECT_EQ(test, b->kind, KSM_NODE_PLAIN);
	KUNIT_EXPECT_EQ(test, b->nid, 0);
	ksm_test_expect_moved(test, &c0, 0, 0, 0, 0);

	/* Its page goes: no items, so the node is freed at once. */
	ksm_node_gone(b);
	KUNIT_EXPECT_NULL(test, ksm_test_leftmost());
	ksm_test_expect_moved(test, &c0, 0, 0, 0, 0);
	mutex_unlock(&ksm_mutex);
	return;
out:
	if (a)
		ksm_node_gone(a);
	if (b)
		ksm_free_node(b);
	if (c)
		ksm_free_node(c);
	mutex_unlock(&ksm_mutex);
}

/* A chain whose every dup went is freed, whether pruning or not. */
static void ksm_test_chain_empty(struct kunit *test)
{
	struct ksm_stable_node *a, *b, *chain;
	struct ksm_test_counts c0;

	mutex_lock(&ksm_mutex);
	c0 = ksm_test_counts();
	a = ksm_test_plain();
	b = ksm_test_node();
	if (!a || !b || !ksm_add_dup(a, b)) {
		KUNIT_FAIL(test, "no memory for stable nodes");
		if (a)
			ksm_node_gone(a);
		if (b)
			ksm_free_node(b);
		goto out;
	}
	chain = ksm_test_leftmost();
	ksm_node_gone(a);
	ksm_node_gone(b);
	ksm_test_expect_moved(test, &c0, 0, 0, 1, 0);
	KUNIT_EXPECT_TRUE(test, ksm_chain_tidy(chain, false));
	KUNIT_EXPECT_NULL(test, ksm_test_leftmost());
	ksm_test_expect_moved(test, &c0, 0, 0, 0, 0);
out:
	mutex_unlock(&ksm_mutex);
}

#define KSM_TEST_ITEMS	3

/*
 * Items linked to a node count one page shared and the rest sharing, and
 * in their mm's ksm_merging_pages.  When the page goes, the node dies with
 * its items on it; ksm_drain_dead() takes them off in bounded batches and
 * frees the node with the last.
 */
static void ksm_test_items_and_death(struct kunit *test)
{
	struct ksm_rmap_item *items;
	struct ksm_stable_node *node;
	struct ksm_test_counts c0;
	struct anon_vma *anon_vma;
	struct mm_struct *mm;
	int i;

	items = kunit_kcalloc(test, KSM_TEST_ITEMS, sizeof(*items), GFP_KERNEL);
	mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	anon_vma = kunit_kzalloc(test, sizeof(*anon_vma), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, items);
	KUNIT_ASSERT_NOT_NULL(test, mm);
	KUNIT_ASSERT_NOT_NULL(test, anon_vma);
	/* The test's own reference: the items' never free it. */
	atomic_set(&anon_vma->refcount, 1);

	mutex_lock(&ksm_mutex);
	c0 = ksm_test_counts();
	node = ksm_test_plain();
	if (!node) {
		KUNIT_FAIL(test, "no memory for a stable node");
		goto out;
	}
	for (i = 0; i < KSM_TEST_ITEMS; i++) {
		items[i].mm = mm;
		items[i].address = (i + 1) * PAGE_SIZE;
		ksm_stable_link(&items[i], node, anon_vma);
		KUNIT_EXPECT_EQ(test, items[i].address,
				(i + 1) * PAGE_SIZE | KSM_ITEM_STABLE);
	}
	KUNIT_EXPECT_EQ(test, node->nr_items, KSM_TEST_ITEMS);
	KUNIT_EXPECT_EQ(test, mm->ksm_merging_pages, KSM_TEST_ITEMS);
	KUNIT_EXPECT_EQ(test, atomic_read(&anon_vma->refcount), 1 + KSM_TEST_ITEMS);
	ksm_test_expect_moved(test, &c0, 1, KSM_TEST_ITEMS - 1, 0, 0);

	/* One mapping goes: one fewer sharing, the item is fresh again. */
	ksm_stable_unlink_locked(&items[0]);
	KUNIT_EXPECT_EQ(test, items[0].address, PAGE_SIZE | KSM_ITEM_FRESH);
	KUNIT_EXPECT_NULL(test, items[0].head);
	KUNIT_EXPECT_EQ(test, mm->ksm_merging_pages, KSM_TEST_ITEMS - 1);
	ksm_test_expect_moved(test, &c0, 1, KSM_TEST_ITEMS - 2, 0, 0);

	/* The page goes with two items still on the node: it dies. */
	ksm_node_gone(node);
	KUNIT_EXPECT_EQ(test, node->kind, KSM_NODE_DEAD);
	KUNIT_EXPECT_NULL(test, ksm_test_leftmost());
	/* Still counted until its items come off, one per batch of 1. */
	ksm_test_expect_moved(test, &c0, 1, KSM_TEST_ITEMS - 2, 0, 0);
	KUNIT_EXPECT_FALSE(test, ksm_drain_dead(1));
	ksm_test_expect_moved(test, &c0, 1, KSM_TEST_ITEMS - 3, 0, 0);
	/* The last one frees the node. */
	KUNIT_EXPECT_TRUE(test, ksm_drain_dead(1));
	KUNIT_EXPECT_TRUE(test, ksm_drain_dead(0));
	ksm_test_expect_moved(test, &c0, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, mm->ksm_merging_pages, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&anon_vma->refcount), 1);
	for (i = 0; i < KSM_TEST_ITEMS; i++)
		KUNIT_EXPECT_EQ(test, items[i].address & KSM_ITEM_FLAGS,
				KSM_ITEM_FRESH);
out:
	mutex_unlock(&ksm_mutex);
}

/*
 * Merge domains: the tree is ordered by domain before content, so entries
 * of other domains are passed by without a look at their pages, and a
 * search in a domain with no entry finds nothing.  The nodes here have no
 * page: every domain is distinct, so none is ever compared.
 */
static void ksm_test_domain_order(struct kunit *test)
{
	static const u64 domains[] = { 5, 1, 9, 3, U64_MAX - 1 };
	struct ksm_stable_node *node[ARRAY_SIZE(domains)], *found;
	struct page *page = alloc_page(GFP_KERNEL);
	struct rb_node *n;
	unsigned int i;
	u64 last = 0;

	KUNIT_ASSERT_NOT_NULL(test, page);
	mutex_lock(&ksm_mutex);
	for (i = 0; i < ARRAY_SIZE(domains); i++) {
		node[i] = ksm_test_node();
		if (!node[i])
			break;
		node[i]->domain = domains[i];
		ksm_stable_insert(node[i], NULL);
	}
	KUNIT_EXPECT_EQ(test, i, ARRAY_SIZE(domains));
	/* In order, by domain. */
	for (n = rb_first(ksm_root_of(node[0])); n; n = rb_next(n)) {
		found = rb_entry(n, struct ksm_stable_node, rb);
		KUNIT_EXPECT_GT(test, found->domain, last);
		last = found->domain;
	}
	KUNIT_EXPECT_EQ(test, last, U64_MAX - 1);
	/* No entry of domain 7 (nor 0): nothing found, no page looked at. */
	KUNIT_EXPECT_NULL(test, ksm_stable_search(page, 0, 7, &found));
	KUNIT_EXPECT_NULL(test, found);
	KUNIT_EXPECT_NULL(test, ksm_stable_search(page, 0, 0, &found));
	ksm_test_remove(node, i);
	mutex_unlock(&ksm_mutex);
	__free_page(page);
}

/*
 * Within a domain the tree is ordered by checksum before content: a search
 * for a checksum no entry has finds nothing without a look at any page
 * (these nodes have none: a look would fault), and so does an insert.
 */
static void ksm_test_checksum_order(struct kunit *test)
{
	static const u32 sums[] = { 50, 10, 90, 30, 70 };
	struct ksm_stable_node *node[ARRAY_SIZE(sums)], *found;
	struct page *page = alloc_page(GFP_KERNEL);
	struct rb_node *n;
	unsigned int i, seen = 0;
	u32 last = 0;

	KUNIT_ASSERT_NOT_NULL(test, page);
	mutex_lock(&ksm_mutex);
	for (i = 0; i < ARRAY_SIZE(sums); i++) {
		node[i] = ksm_test_node();
		if (!node[i])
			break;
		node[i]->domain = 3;
		node[i]->checksum = sums[i];
		ksm_stable_insert(node[i], NULL);
	}
	KUNIT_EXPECT_EQ(test, i, ARRAY_SIZE(sums));
	for (n = rb_first(ksm_root_of(node[0])); n; n = rb_next(n)) {
		found = rb_entry(n, struct ksm_stable_node, rb);
		KUNIT_EXPECT_EQ(test, found->domain, 3ULL);
		KUNIT_EXPECT_GT(test, found->checksum, last);
		last = found->checksum;
		seen++;
	}
	KUNIT_EXPECT_EQ(test, seen, i);
	KUNIT_EXPECT_NULL(test, ksm_stable_search(page, 40, 3, &found));
	KUNIT_EXPECT_NULL(test, found);
	KUNIT_EXPECT_NULL(test, ksm_stable_search(page, 95, 3, &found));
	KUNIT_EXPECT_NULL(test, ksm_stable_search(page, 50, 4, &found));
	ksm_test_remove(node, i);
	mutex_unlock(&ksm_mutex);
	__free_page(page);
}

static struct kunit_case ksm_stable_test_cases[] = {
	KUNIT_CASE(ksm_test_domain_order),
	KUNIT_CASE(ksm_test_checksum_order),
	KUNIT_CASE(ksm_test_chain_life),
	KUNIT_CASE(ksm_test_chain_empty),
	KUNIT_CASE(ksm_test_items_and_death),
	{},
};

static struct kunit_suite ksm_stable_test_suite = {
	.name = "ksm_stable",
	.test_cases = ksm_stable_test_cases,
};

kunit_test_suite(ksm_stable_test_suite);

#endif /* _MM_KSM_STABLE_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
