/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of domain.c: the domain of an mm as its owner, its
 * dumpability and its owner's credentials make it.  They change
 * merge_domain for a moment, at boot, before any process can register:
 * ksmd is stopped and no mm is registered, or they are skipped.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_DOMAIN_TEST_H
#define _MM_KSM_DOMAIN_TEST_H

#include <kunit/test.h>

#ifdef CONFIG_MEMCG
static void ksm_test_domain_of_mm(struct kunit *test)
{
	struct mm_struct *mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	unsigned int mode = ksm_merge_domain;

	KUNIT_ASSERT_NOT_NULL(test, mm);
	if (READ_ONCE(ksm_run) != KSM_RUN_STOP ||
	    !list_empty_careful(&ksm_mm_head.scan_list))
		kunit_skip(test, "KSM is in use: run %u", ksm_run);

	/* No owner: its last task has gone; the domain cannot be told. */
	WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_USER);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), KSM_DOMAIN_UNKNOWN);
	if (!mem_cgroup_disabled()) {
		WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_MEMCG);
		KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), KSM_DOMAIN_UNKNOWN);
	}
	WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_GLOBAL);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), 0);

	/* Owned (by this kthread, root): "user" if the mm is dumpable. */
	RCU_INIT_POINTER(mm->owner, current);
	WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_USER);
	set_dumpable(mm, SUID_DUMP_DISABLE);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), KSM_NO_DOMAIN);
	set_dumpable(mm, SUID_DUMP_USER);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), 0);
	WRITE_ONCE(ksm_merge_domain, mode);
}

/* Set all four uids and all four gids of @cred. */
static void ksm_test_set_ids(struct cred *cred, uid_t uid, gid_t gid)
{
	cred->uid = KUIDT_INIT(uid);
	cred->euid = cred->uid;
	cred->suid = cred->uid;
	cred->fsuid = cred->uid;
	cred->gid = KGIDT_INIT(gid);
	cred->egid = cred->gid;
	cred->sgid = cred->gid;
	cred->fsgid = cred->gid;
}

/*
 * "user": a process is of the domain of its uid and gid only if a process
 * of those ids without privilege could read its memory.
 */
static void ksm_test_cred_domain(struct kunit *test)
{
	struct cred *cred = prepare_creds();

	KUNIT_ASSERT_NOT_NULL(test, cred);
	ksm_test_set_ids(cred, 1000, 100);
	cred->cap_permitted = CAP_EMPTY_SET;
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), 100ULL << 32 | 1000);
	ksm_test_set_ids(cred, 1000, 1000);
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), 1000ULL << 32 | 1000);

	/* One id of another value: set-user-ID root, setreuid(), sg. */
	cred->euid = GLOBAL_ROOT_UID;
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), KSM_NO_DOMAIN);
	ksm_test_set_ids(cred, 1000, 1000);
	cred->suid = GLOBAL_ROOT_UID;
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), KSM_NO_DOMAIN);
	ksm_test_set_ids(cred, 1000, 1000);
	cred->fsgid = KGIDT_INIT(5);
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), KSM_NO_DOMAIN);
	ksm_test_set_ids(cred, 1000, 1000);
	cred->egid = KGIDT_INIT(5);
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), KSM_NO_DOMAIN);

	/* A capability (an ambient one, say) that the user's others lack. */
	ksm_test_set_ids(cred, 1000, 1000);
	cap_raise(cred->cap_permitted, CAP_NET_BIND_SERVICE);
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), KSM_NO_DOMAIN);

	/* root with every capability; root with some dropped. */
	ksm_test_set_ids(cred, 0, 0);
	cred->cap_permitted = CAP_FULL_SET;
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), 0);
	cap_lower(cred->cap_permitted, CAP_SYS_PTRACE);
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), KSM_NO_DOMAIN);
	cred->cap_permitted = CAP_EMPTY_SET;
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), 0);
	abort_creds(cred);
}

/*
 * "user", in user namespaces other than the initial one: two processes are
 * of one domain only in one namespace, with the same ids and the same
 * capabilities.  Two containers whose namespaces map their ids to the same
 * ones (one range of subordinate ids for all) may not read each other.
 * Each inequality may fail by chance, one time in 2^64.
 */
static void ksm_test_userns_domain(struct kunit *test)
{
	struct user_namespace *ns = kunit_kzalloc(test, 2 * sizeof(*ns),
						  GFP_KERNEL);
	struct user_namespace *own;
	struct cred *cred;
	u64 key;

	KUNIT_ASSERT_NOT_NULL(test, ns);
	cred = prepare_creds();
	KUNIT_ASSERT_NOT_NULL(test, cred);
	own = cred->user_ns;
	ns[0].ns.inum = 0xf0000001;
	ns[0].serial = 1;
	ns[1].ns.inum = 0xf0000002;
	ns[1].serial = 2;
	cred->user_ns = &ns[0];
	ksm_test_set_ids(cred, 100000, 100000);
	cred->cap_permitted = CAP_FULL_SET;
	key = ksm_cred_domain(cred);
	KUNIT_EXPECT_NE(test, key, KSM_NO_DOMAIN);
	KUNIT_EXPECT_NE(test, key, KSM_DOMAIN_UNKNOWN);
	KUNIT_EXPECT_NE(test, key, 100000ULL << 32 | 100000);
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), key);
	/* A sibling namespace, its ids mapped to the same ones. */
	cred->user_ns = &ns[1];
	KUNIT_EXPECT_NE(test, ksm_cred_domain(cred), key);
	/* Its serial alone tells a namespace, not its address or number. */
	ns[1].serial = ns[0].serial;
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), key);
	ns[1].serial = 2;
	cred->user_ns = &ns[0];
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), key);
	/*
	 * The first freed, and another made at its address with its inode
	 * number, as the slab and the inode numbers give them out again:
	 * another serial number, another domain.
	 */
	ns[0].serial = 3;
	KUNIT_EXPECT_NE(test, ksm_cred_domain(cred), key);
	ns[0].serial = 1;
	/* Fewer capabilities: it may not read the first. */
	cap_lower(cred->cap_permitted, CAP_SYS_PTRACE);
	KUNIT_EXPECT_NE(test, ksm_cred_domain(cred), key);
	cred->cap_permitted = CAP_EMPTY_SET;
	KUNIT_EXPECT_NE(test, ksm_cred_domain(cred), key);
	KUNIT_EXPECT_NE(test, ksm_cred_domain(cred),
			100000ULL << 32 | 100000);
	/* Other ids; ids not all one uid and one gid. */
	cred->cap_permitted = CAP_FULL_SET;
	ksm_test_set_ids(cred, 100001, 100000);
	KUNIT_EXPECT_NE(test, ksm_cred_domain(cred), key);
	cred->suid = KUIDT_INIT(100000);
	KUNIT_EXPECT_EQ(test, ksm_cred_domain(cred), KSM_NO_DOMAIN);
	cred->user_ns = own;
	abort_creds(cred);
}
#else
static void ksm_test_domain_of_mm(struct kunit *test)
{
	kunit_skip(test, "no mm->owner without CONFIG_MEMCG");
}

static void ksm_test_cred_domain(struct kunit *test)
{
	kunit_skip(test, "no \"user\" domains without CONFIG_MEMCG");
}

static void ksm_test_userns_domain(struct kunit *test)
{
	kunit_skip(test, "no \"user\" domains without CONFIG_MEMCG");
}
#endif /* CONFIG_MEMCG */

/*
 * The bucket tags of domains of the unstable table are a keyed hash: the
 * domains of users whose uid is their gid, and root's, do not share one
 * (each inequality may fail by chance, one time in 2^32), and no one can
 * tell which domains do.
 */
static void ksm_test_domain_tags(struct kunit *test)
{
	static const u64 domains[] = {
		0, 1000ULL << 32 | 1000, 1001ULL << 32 | 1001,
		100000ULL << 32 | 100000, 1ULL << 32 | 1,
	};
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(domains); i++) {
		KUNIT_EXPECT_EQ(test, ksm_domain_tag(domains[i]),
				ksm_domain_tag(domains[i]));
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_NE_MSG(test, ksm_domain_tag(domains[i]),
					    ksm_domain_tag(domains[j]),
					    "domains %llx and %llx",
					    domains[i], domains[j]);
	}
}

static struct kunit_case ksm_domain_test_cases[] = {
	KUNIT_CASE(ksm_test_domain_of_mm),
	KUNIT_CASE(ksm_test_cred_domain),
	KUNIT_CASE(ksm_test_userns_domain),
	KUNIT_CASE(ksm_test_domain_tags),
	{}
};

static struct kunit_suite ksm_domain_test_suite = {
	.name = "ksm_domain",
	.test_cases = ksm_domain_test_cases,
};

kunit_test_suite(ksm_domain_test_suite);

#endif /* _MM_KSM_DOMAIN_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
