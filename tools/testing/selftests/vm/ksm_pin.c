// SPDX-License-Identifier: GPL-2.0
/*
 * Pages pinned for DMA are never merged, and a merge never loses data
 * written by direct I/O.
 *
 * KSM write-protects a page before it compares and replaces it, and must
 * refuse a page that may be pinned (its reference count above what its
 * mappings and ksmd's own reference account for): a device, or io_uring,
 * would go on reading and writing the old page while the process maps the
 * KSM page.
 *
 * Group 1, long-term pins (io_uring registered buffers: FOLL_PIN |
 * FOLL_LONGTERM).  Three areas of NP pages, U1, U2 and P (in this address
 * order, so that ksmd meets U1[i] and U2[i] before P[i] in every pass),
 * page i of each holding key i.  P is registered as one fixed buffer
 * before the areas are made mergeable; smart_scan is off, so that ksmd
 * tries P's pages at every pass.
 *  - U1 and U2 merge (pages_shared NP, pages_sharing NP); two more full
 *    scans later (pages_sharing never above NP meanwhile, sampled every
 *    KSM_POLL_US) the counters are still exactly that, no page of P is a
 *    KSM page, P's PFNs are those it had once registered, its contents
 *    are intact.  A KSM that merged P would count pages_sharing 2 * NP.
 *  - The pinned pages stay those P maps: IORING_OP_READ_FIXED of new data
 *    from a memfd into the buffer is seen through P's mapping, and data
 *    written through P's mapping is what IORING_OP_WRITE_FIXED writes
 *    out.  P gets its keys back; three full scans later the counters are
 *    still NP/NP and P holds no KSM page.  A merged P would read the old
 *    data (the KSM page) while the I/O went to the pinned page.
 *  - After IORING_UNREGISTER_BUFFERS the pins are gone and P joins:
 *    pages_shared NP, pages_sharing 2 * NP, every page of P a KSM page, at
 *    the PFN of U1's page i (and of U2's), its contents intact.
 *  SKIP (each case) if io_uring_setup() fails with ENOSYS.
 *
 * Group 2, O_DIRECT reads racing ksmd.  A zram device of our own (hot
 * added, removed at the end) holds NBLK blocks K_j, written with O_DIRECT.
 * Two threads each own a mergeable area of NBLK pages, every page holding
 * key D, like the two pages of an untouched anchor area; over and over,
 * each thread reads block j with O_DIRECT into its page j (a GUP for
 * write: the page is referenced while zram copies into it), checks that
 * the page holds exactly K_j, and writes D back.  ksmd, flat out, keeps
 * merging the pages of D into the anchor's KSM page and the reads keep
 * breaking them (cow_ksm), so a merge racing a read is tried often.
 *  - before the race, the 2 + 2 * NBLK pages of D merge: 1/(1 + 2 * NBLK);
 *  - for RACE_S seconds: 0 mismatches, at least MIN_READS reads;
 *    a merge that raced a read leaves the process mapping the KSM page,
 *    holding D, while K_j went into the page it replaced;
 *  - merging did happen meanwhile: cow_ksm (/proc/vmstat) rose by more
 *    than the 2 * NBLK copies the first reads make of the pages merged
 *    before the race, or pages_sharing, sampled once every page had been
 *    read (so copied) once, was seen above the anchor's 1;
 *  - after the race, every page is D again and they merge back into
 *    1/(1 + 2 * NBLK); the zram blocks still hold K_j; the device is
 *    removed.
 *  SKIP (each case) without /sys/class/zram-control.
 *
 * Last: run=2 brings every counter back to 0.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <linux/io_uring.h>
#include "ksm_util.h"

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter	426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register	427
#endif

#define NP		32		/* pages of U1, U2 and P */
#define KEY_P		0x1000ULL	/* + i: page i of U1, U2, P */
#define KEY_RD		0x2000ULL	/* + i: read into the fixed buffer */
#define KEY_WR		0x3000ULL	/* + i: written through P's mapping */

#define NBLK		16		/* zram blocks, pages of each thread */
#define KEY_BLK		0x4000ULL	/* + j: zram block j */
#define KEY_D		0x5000ULL	/* the duplicated content */
#define NANCHOR		2
#define RACE_S		5
#define MIN_READS	1000
#define ZRAM_CTL	"/sys/class/zram-control"

#define N_CASES		8

static unsigned long long pfn_of(const void *addr)
{
	unsigned long long ent = ksm_pagemap(addr);

	return ent & KSM_PM_PRESENT ? ent & KSM_PM_PFN_MASK : 0;
}

/* ---------------------------------------------------------------------- */
/* A minimal io_uring, by raw system calls.                               */
/* ---------------------------------------------------------------------- */

struct ring {
	int fd;
	void *sq_ptr, *cq_ptr;
	size_t sq_len, cq_len, sqes_len;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static void ring_exit(struct ring *r)
{
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->cq_ptr)
		munmap(r->cq_ptr, r->cq_len);
	if (r->sq_ptr)
		munmap(r->sq_ptr, r->sq_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* 0, or -errno (-ENOSYS: a kernel without io_uring). */
static int ring_init(struct ring *r)
{
	struct io_uring_params p;
	char *sq, *cq;
	int err;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	r->fd = syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 r->fd, IORING_OFF_SQ_RING);
	r->cq_ptr = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       r->fd, IORING_OFF_SQES);
	if (r->sq_ptr == MAP_FAILED || r->cq_ptr == MAP_FAILED || r->sqes == MAP_FAILED) {
		err = -errno;
		if (r->sq_ptr == MAP_FAILED)
			r->sq_ptr = NULL;
		if (r->cq_ptr == MAP_FAILED)
			r->cq_ptr = NULL;
		if (r->sqes == MAP_FAILED)
			r->sqes = NULL;
		ring_exit(r);
		return err;
	}
	sq = r->sq_ptr;
	cq = r->cq_ptr;
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/*
 * One fixed-buffer read or write (@op), of @len bytes at @addr of
 * registered buffer 0, from or to @fd at @off; wait for it.  The cqe's
 * res, or -errno if it could not be submitted.
 */
static int ring_rw_fixed(struct ring *r, int op, int fd, void *addr,
			 unsigned int len, unsigned long long off)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	long long deadline = ksm_now_ms() + 10000;
	int ret;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->off = off;
	sqe->addr = (unsigned long)addr;
	sqe->len = len;
	sqe->buf_index = 0;
	sqe->user_data = 0x6b736d;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	if (ret != 1)
		return ret < 0 ? -errno : -EIO;
	/* Bounded: GETEVENTS with min_complete 1 should have waited already. */
	head = *r->cq_head;
	while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		if (ksm_now_ms() > deadline)
			return -ETIMEDOUT;
		syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	}
	ret = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Group 1: io_uring registered buffers.                                  */
/* ---------------------------------------------------------------------- */

static void results(int n, bool ok, const char *msg)
{
	while (n--)
		ksft_test_result(ok, "%s\n", msg);
}

static void skips(int n, const char *msg)
{
	while (n--)
		ksft_test_result_skip("%s\n", msg);
}

/* P's pages: none a KSM page, all at the PFNs they were pinned at. */
static bool p_untouched(char *p, const unsigned long long *pfn_p, const char *when)
{
	long nksm = ksm_count_ksm_pages(p, NP);
	int i, moved = 0;

	for (i = 0; i < NP; i++) {
		if (pfn_of(ksm_page_addr(p, i)) == pfn_p[i])
			continue;
		if (moved++ < 5)
			ksft_print_msg("%s: P[%d] at pfn %#llx, pinned at %#llx\n", when, i,
				       pfn_of(ksm_page_addr(p, i)), pfn_p[i]);
	}
	if (nksm || moved)
		ksft_print_msg("%s: %ld of P's pages are KSM pages, %d moved\n", when, nksm,
			       moved);
	return nksm == 0 && !moved;
}

/*
 * Watch the counters for @n more full scans: pages_sharing must never go
 * above NP (a page of P merged, if only for a moment), and they must end
 * at exactly NP/NP.
 */
static bool hold_counters(unsigned long n)
{
	struct ksm_counters want = { NP, NP, KSM_ANY, KSM_ANY, KSM_ANY, KSM_ANY };
	long long deadline = ksm_now_ms() + KSM_TIMEOUT_MS;
	unsigned long start = ksm_full_scans();
	long sharing, max_sharing = 0;

	while (ksm_full_scans() < start + n) {
		sharing = ksm_read("pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("timeout: full_scans %lu, wanted %lu\n", ksm_full_scans(),
				       start + n);
			return false;
		}
		usleep(KSM_POLL_US);
	}
	if (max_sharing > NP)
		ksft_print_msg("pages_sharing went up to %ld over %lu full scans: P merged\n",
			       max_sharing, n);
	return ksm_counters_now(&want) && max_sharing <= NP;
}

/* Fixed-buffer I/O through the pinned pages, seen through P's mapping. */
static bool coherent(struct ring *r, char *p)
{
	unsigned long long keys[NP];
	char *buf = ksm_mmap(NP);
	bool ok = false;
	int i, memfd, ret;

	memfd = memfd_create("ksm_pin", 0);
	if (memfd < 0) {
		ksft_print_msg("memfd_create: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < NP; i++)
		keys[i] = KEY_RD + i;
	ksm_fill_pages(buf, keys, NP);
	if (pwrite(memfd, buf, NP * ksm_page_size, 0) != NP * ksm_page_size) {
		ksft_print_msg("writing the memfd: %s\n", strerror(errno));
		goto out;
	}
	/* The kernel writes into the pinned pages: P must see it. */
	ret = ring_rw_fixed(r, IORING_OP_READ_FIXED, memfd, p, NP * ksm_page_size, 0);
	if (ret != NP * ksm_page_size) {
		ksft_print_msg("IORING_OP_READ_FIXED: %d (%s)\n", ret,
			       ret < 0 ? strerror(-ret) : "short");
		goto out;
	}
	if (ksm_check_pages(p, keys, NP, "P after READ_FIXED"))
		goto out;

	/* P's mapping writes into the pinned pages: the kernel must read it. */
	for (i = 0; i < NP; i++)
		keys[i] = KEY_WR + i;
	ksm_fill_pages(p, keys, NP);
	ret = ring_rw_fixed(r, IORING_OP_WRITE_FIXED, memfd, p, NP * ksm_page_size,
			    NP * ksm_page_size);
	if (ret != NP * ksm_page_size) {
		ksft_print_msg("IORING_OP_WRITE_FIXED: %d (%s)\n", ret,
			       ret < 0 ? strerror(-ret) : "short");
		goto out;
	}
	memset(buf, 0, NP * ksm_page_size);
	if (pread(memfd, buf, NP * ksm_page_size, NP * ksm_page_size) != NP * ksm_page_size) {
		ksft_print_msg("reading the memfd: %s\n", strerror(errno));
		goto out;
	}
	ok = !ksm_check_pages(buf, keys, NP, "WRITE_FIXED from P");
out:
	if (memfd >= 0)
		close(memfd);
	munmap(buf, NP * ksm_page_size);
	return ok;
}

static void test_io_uring(void)
{
	unsigned long long keys[NP], pfn_p[NP];
	char *area, *u1, *u2, *p;
	int i, err, same = 0, differ = 0;
	struct iovec iov;
	struct ring r;
	long nksm;
	bool ok;

	area = ksm_mmap(3 * NP);
	u1 = area;
	u2 = ksm_page_addr(area, NP);
	p = ksm_page_addr(area, 2 * NP);
	for (i = 0; i < NP; i++)
		keys[i] = KEY_P + i;
	ksm_fill_pages(u1, keys, NP);
	ksm_fill_pages(u2, keys, NP);
	ksm_fill_pages(p, keys, NP);

	err = ring_init(&r);
	if (err == -ENOSYS) {
		skips(3, "io_uring_setup: ENOSYS, a kernel without io_uring");
		munmap(area, 3 * NP * ksm_page_size);
		return;
	}
	if (err) {
		ksft_print_msg("io_uring_setup: %s\n", strerror(-err));
		results(3, false, "io_uring registered buffers: no ring");
		munmap(area, 3 * NP * ksm_page_size);
		return;
	}
	iov.iov_base = p;
	iov.iov_len = NP * ksm_page_size;
	if (syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_BUFFERS, &iov, 1)) {
		ksft_print_msg("IORING_REGISTER_BUFFERS: %s\n", strerror(errno));
		results(3, false, "io_uring registered buffers: cannot register P");
		ring_exit(&r);
		munmap(area, 3 * NP * ksm_page_size);
		return;
	}
	/* A long-term pin may have migrated them: their PFNs from now on. */
	for (i = 0; i < NP; i++)
		pfn_p[i] = pfn_of(ksm_page_addr(p, i));

	/* Every pass tries P's pages: smart scan would pass them over. */
	if (ksm_file_exists("smart_scan"))
		ksm_set("smart_scan", 0);
	ksm_madvise(area, 3 * NP, MADV_MERGEABLE);
	ksm_set("run", 1);

	ok = ksm_wait_merged(NP, NP);
	ok = ok && hold_counters(2);
	nksm = ksm_count_ksm_pages(u1, NP);
	if (nksm != NP)
		ksft_print_msg("U1: %ld of %d pages are KSM pages\n", nksm, NP);
	ok = ok && nksm == NP;
	ok = p_untouched(p, pfn_p, "P registered") && ok;
	ok = !ksm_check_pages(p, keys, NP, "P registered") && ok;
	ok = !ksm_check_pages(u1, keys, NP, "U1") && ok;
	ok = !ksm_check_pages(u2, keys, NP, "U2") && ok;
	ksm_print_counters("P registered");
	ksft_test_result(ok, "P registered as an io_uring buffer: U1/U2 merge to %d/%d and stay so 2 more full scans; P holds no KSM page, same PFNs, contents intact\n",
			 NP, NP);

	/* The pinned pages are what P maps, both ways. */
	ok = coherent(&r, p);
	ksm_fill_pages(p, keys, NP);
	ok = hold_counters(3) && ok;
	ok = p_untouched(p, pfn_p, "P after fixed I/O") && ok;
	ok = !ksm_check_pages(p, keys, NP, "P after fixed I/O") && ok;
	ksft_test_result(ok, "READ_FIXED seen through P, P's writes seen by WRITE_FIXED; 3 full scans later still %d/%d, P unmerged\n",
			 NP, NP);

	/* Unpinned, P joins. */
	if (syscall(__NR_io_uring_register, r.fd, IORING_UNREGISTER_BUFFERS, NULL, 0)) {
		ksft_print_msg("IORING_UNREGISTER_BUFFERS: %s\n", strerror(errno));
		ok = false;
	} else {
		ok = ksm_wait_merged(NP, 2 * NP);
	}
	nksm = ksm_count_ksm_pages(p, NP);
	for (i = 0; i < NP; i++) {
		unsigned long long pp = pfn_of(ksm_page_addr(p, i));

		if (pp && pp == pfn_of(ksm_page_addr(u1, i)) &&
		    pp == pfn_of(ksm_page_addr(u2, i)))
			same++;
		else if (differ++ < 5)
			ksft_print_msg("P[%d] at pfn %#llx, U1[%d] at %#llx, U2[%d] at %#llx\n", i,
				       pp, i, pfn_of(ksm_page_addr(u1, i)), i,
				       pfn_of(ksm_page_addr(u2, i)));
	}
	ksft_print_msg("after unregistering: %ld of P's pages are KSM pages, %d share U1's and U2's pfn\n",
		       nksm, same);
	ok = ok && nksm == NP && same == NP;
	ok = !ksm_check_pages(p, keys, NP, "P unregistered") && ok;
	ok = !ksm_check_pages(u1, keys, NP, "U1 with P") && ok;
	ksft_test_result(ok, "IORING_UNREGISTER_BUFFERS: P joins, %d/%d, each P[i] the KSM page of U1[i] and U2[i]\n",
			 NP, 2 * NP);

	ring_exit(&r);
	munmap(area, 3 * NP * ksm_page_size);
	ksm_must_unmerge_all();
}

/* ---------------------------------------------------------------------- */
/* Group 2: O_DIRECT reads from zram racing ksmd.                         */
/* ---------------------------------------------------------------------- */

static struct {
	long num;		/* -1: none added */
	int fd;
	bool made_node;
	char node[64];
	char sys[64];
} zr = { .num = -1, .fd = -1 };

/*
 * Write @val to @path; a device busy for a moment (EBUSY: another opener,
 * say blkid) is tried again for up to 2 s.
 */
static bool write_file(const char *path, const char *val)
{
	long long deadline = ksm_now_ms() + 2000;
	ssize_t n;
	int fd;

	for (;;) {
		fd = open(path, O_WRONLY);
		if (fd < 0) {
			ksft_print_msg("open %s: %s\n", path, strerror(errno));
			return false;
		}
		n = write(fd, val, strlen(val));
		if (n < 0 && errno == EBUSY && ksm_now_ms() < deadline) {
			close(fd);
			usleep(50000);
			continue;
		}
		if (n != (ssize_t)strlen(val))
			ksft_print_msg("write %s to %s: %s\n", val, path,
				       n < 0 ? strerror(errno) : "short");
		close(fd);
		return n == (ssize_t)strlen(val);
	}
}

/* Close, reset and remove our zram device; idempotent (also at exit). */
static bool zram_remove(void)
{
	char path[128], num[32];
	bool ok = true;

	if (zr.fd >= 0) {
		close(zr.fd);
		zr.fd = -1;
	}
	if (zr.num < 0)
		return true;
	snprintf(path, sizeof(path), "%s/reset", zr.sys);
	ok = write_file(path, "1") && ok;
	snprintf(num, sizeof(num), "%ld", zr.num);
	ok = write_file(ZRAM_CTL "/hot_remove", num) && ok;
	if (zr.made_node)
		unlink(zr.node);
	zr.made_node = false;
	zr.num = -1;
	return ok;
}

static void zram_atexit(void)
{
	if (getpid() == ksm_owner_pid)
		zram_remove();
}

/* Add a zram device of ours and open it O_DIRECT: false, and *why, if not. */
static bool zram_add(char *why, size_t len)
{
	unsigned int maj, min;
	unsigned long num;
	char path[128], buf[32];
	long long deadline;
	struct stat st;
	FILE *f;
	int err;

	err = ksm_read_ulong_path(ZRAM_CTL "/hot_add", &num);
	if (err) {
		snprintf(why, len, "hot_add: %s", strerror(-err));
		return false;
	}
	zr.num = num;
	snprintf(zr.sys, sizeof(zr.sys), "/sys/block/zram%lu", num);
	snprintf(zr.node, sizeof(zr.node), "/dev/zram%lu", num);
	snprintf(path, sizeof(path), "%s/disksize", zr.sys);
	if (!write_file(path, "8M")) {
		snprintf(why, len, "cannot set %s", path);
		return false;
	}
	/* devtmpfs should have made the node; else make it. */
	deadline = ksm_now_ms() + 1000;
	while (stat(zr.node, &st) || !S_ISBLK(st.st_mode)) {
		if (ksm_now_ms() < deadline) {
			usleep(10000);
			continue;
		}
		snprintf(path, sizeof(path), "%s/dev", zr.sys);
		f = fopen(path, "r");
		if (!f || !fgets(buf, sizeof(buf), f) || sscanf(buf, "%u:%u", &maj, &min) != 2) {
			if (f)
				fclose(f);
			snprintf(why, len, "no %s, cannot read %s", zr.node, path);
			return false;
		}
		fclose(f);
		unlink(zr.node);
		if (mknod(zr.node, S_IFBLK | 0600, makedev(maj, min))) {
			snprintf(why, len, "mknod %s %u:%u: %s", zr.node, maj, min,
				 strerror(errno));
			return false;
		}
		zr.made_node = true;
		ksft_print_msg("made %s (%u:%u)\n", zr.node, maj, min);
		break;
	}
	zr.fd = open(zr.node, O_RDWR | O_DIRECT);
	if (zr.fd < 0) {
		snprintf(why, len, "open %s O_DIRECT: %s", zr.node, strerror(errno));
		return false;
	}
	return true;
}

struct reader {
	pthread_t thread;
	char *area;
	int id;
	int err;
	unsigned long long reads, mismatches, held_d;
};

static int race_stop;

static void *reader_loop(void *arg)
{
	struct reader *rd = arg;
	ssize_t n;
	long off;
	int j;

	while (!__atomic_load_n(&race_stop, __ATOMIC_RELAXED)) {
		for (j = 0; j < NBLK; j++) {
			char *page = ksm_page_addr(rd->area, j);

			n = pread(zr.fd, page, ksm_page_size, (off_t)j * ksm_page_size);
			if (n != ksm_page_size) {
				rd->err = n < 0 ? errno : EIO;
				return NULL;
			}
			__atomic_store_n(&rd->reads, rd->reads + 1, __ATOMIC_RELAXED);
			off = ksm_check_page(page, KEY_BLK + j);
			if (off >= 0) {
				bool d = ksm_check_page(page, KEY_D) < 0;

				rd->held_d += d;
				if (rd->mismatches++ < 5)
					ksft_print_msg("thread %d: page %d after reading block %d differs at offset %ld%s\n",
						       rd->id, j, j, off,
						       d ? ": it holds D, the KSM page's content" : "");
			}
			ksm_fill_page(page, KEY_D);
		}
	}
	return NULL;
}

static void test_odirect(void)
{
	long want_sharing = NANCHOR + 2 * NBLK - 1;
	unsigned long long reads = 0, mismatches = 0, held_d = 0;
	long long cow0, cow1, t_end, cow_delta;
	struct reader rd[2];
	long sharing, max_sharing = 0;
	unsigned long long blk_keys[NBLK], d_keys[NBLK];
	char why[256], *anchor, *buf;
	bool ok, setup_ok, merged, read_err = false, round_done = false;
	int j, t, bad;

	if (access(ZRAM_CTL, F_OK)) {
		skips(4, "no " ZRAM_CTL ": kernel without zram (CONFIG_ZRAM)");
		return;
	}
	atexit(zram_atexit);
	if (!zram_add(why, sizeof(why))) {
		ksft_print_msg("zram: %s\n", why);
		zram_remove();
		results(4, false, "O_DIRECT race: cannot set up a zram device");
		return;
	}
	ksft_print_msg("zram%ld: %s, O_DIRECT\n", zr.num, zr.node);

	/* The blocks K_j, written and read back with O_DIRECT. */
	buf = ksm_mmap(NBLK);
	for (j = 0; j < NBLK; j++) {
		blk_keys[j] = KEY_BLK + j;
		d_keys[j] = KEY_D;
	}
	ksm_fill_pages(buf, blk_keys, NBLK);
	setup_ok = pwrite(zr.fd, buf, NBLK * ksm_page_size, 0) == NBLK * ksm_page_size;
	if (!setup_ok)
		ksft_print_msg("O_DIRECT write: %s\n", strerror(errno));
	memset(buf, 0, NBLK * ksm_page_size);
	setup_ok = setup_ok && pread(zr.fd, buf, NBLK * ksm_page_size, 0) ==
			       NBLK * ksm_page_size;
	setup_ok = setup_ok && !ksm_check_pages(buf, blk_keys, NBLK, "zram written");
	if (!setup_ok) {
		munmap(buf, NBLK * ksm_page_size);
		zram_remove();
		results(4, false, "O_DIRECT race: cannot write the zram blocks");
		return;
	}

	/* Everything of D merges into one KSM page. */
	anchor = ksm_mmap(NANCHOR);
	ksm_fill_pages(anchor, d_keys, NANCHOR);
	ksm_madvise(anchor, NANCHOR, MADV_MERGEABLE);
	memset(rd, 0, sizeof(rd));
	for (t = 0; t < 2; t++) {
		rd[t].id = t;
		rd[t].area = ksm_mmap_mergeable(d_keys, NBLK);
	}
	ksm_set("run", 1);
	ok = ksm_wait_merged(1, want_sharing);
	ksft_test_result(ok, "before the race: %d pages of D (anchor %d, threads 2 x %d) merge: 1/%ld\n",
			 NANCHOR + 2 * NBLK, NANCHOR, NBLK, want_sharing);

	/* The race. */
	cow0 = ksm_vmstat("cow_ksm");
	__atomic_store_n(&race_stop, 0, __ATOMIC_RELAXED);
	for (t = 0; t < 2; t++)
		if (pthread_create(&rd[t].thread, NULL, reader_loop, &rd[t]))
			ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	t_end = ksm_now_ms() + RACE_S * 1000;
	while (ksm_now_ms() < t_end) {
		/*
		 * Once both threads have read every block, every page merged
		 * before the race has been copied: a KSM page mapped by a
		 * thread page since is a merge of the race.
		 */
		if (!round_done) {
			round_done = __atomic_load_n(&rd[0].reads, __ATOMIC_RELAXED) >= NBLK &&
				     __atomic_load_n(&rd[1].reads, __ATOMIC_RELAXED) >= NBLK;
			usleep(1000);
			continue;
		}
		sharing = ksm_read("pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		usleep(5000);
	}
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELAXED);
	for (t = 0; t < 2; t++) {
		pthread_join(rd[t].thread, NULL);
		ksft_print_msg("thread %d: %llu reads, %llu mismatches (%llu holding D)%s%s\n",
			       t, rd[t].reads, rd[t].mismatches, rd[t].held_d,
			       rd[t].err ? ", stopped by a read error: " : "",
			       rd[t].err ? strerror(rd[t].err) : "");
		reads += rd[t].reads;
		mismatches += rd[t].mismatches;
		held_d += rd[t].held_d;
		read_err |= rd[t].err != 0;
	}
	cow1 = ksm_vmstat("cow_ksm");
	cow_delta = cow0 >= 0 && cow1 >= 0 ? cow1 - cow0 : -1;
	ksft_test_result(!mismatches && !read_err && reads >= MIN_READS,
			 "%d s of O_DIRECT reads into pages ksmd merges: %llu reads (at least %d), %llu mismatches (%llu holding D)\n",
			 RACE_S, reads, MIN_READS, mismatches, held_d);

	/*
	 * cow_ksm counts the copies of a KSM page a thread page mapped, made
	 * by a read's GUP for write or by the rewrite: the 2 * NBLK pages
	 * merged before the race account for 2 * NBLK of them, once each;
	 * any more were merged during the race.  Or pages_sharing, sampled
	 * after every page had been copied once, was above the anchor's.
	 */
	merged = cow_delta > 2 * NBLK || max_sharing > NANCHOR - 1;
	ksft_print_msg("during the race: cow_ksm %+lld (-1: unknown; %d from the merges before it), pages_sharing up to %ld once every page was read (the anchor alone: %d)\n",
		       cow_delta, 2 * NBLK, max_sharing, NANCHOR - 1);
	ksft_test_result(merged, "merges happened during the race: cow_ksm %+lld (> %d), or pages_sharing up to %ld (> %d)\n",
			 cow_delta, 2 * NBLK, max_sharing, NANCHOR - 1);

	/* All D again: all merge again; the device kept its blocks. */
	ok = ksm_wait_merged(1, want_sharing);
	ok = !ksm_check_pages(anchor, d_keys, NANCHOR, "anchor") && ok;
	for (t = 0; t < 2; t++)
		ok = !ksm_check_pages(rd[t].area, d_keys, NBLK, "thread area") && ok;
	memset(buf, 0, NBLK * ksm_page_size);
	if (pread(zr.fd, buf, NBLK * ksm_page_size, 0) != NBLK * ksm_page_size) {
		ksft_print_msg("O_DIRECT read back: %s\n", strerror(errno));
		ok = false;
	} else {
		bad = ksm_check_pages(buf, blk_keys, NBLK, "zram read back");
		ok = !bad && ok;
	}
	ok = zram_remove() && ok;
	ksft_test_result(ok, "after the race: all D, merged 1/%ld again; zram blocks intact; device removed\n",
			 want_sharing);

	for (t = 0; t < 2; t++)
		munmap(rd[t].area, NBLK * ksm_page_size);
	munmap(anchor, NANCHOR * ksm_page_size);
	munmap(buf, NBLK * ksm_page_size);
	ksm_must_unmerge_all();
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(N_CASES);
	ksm_selftest_init(1000, 0, 170);
	test_io_uring();
	test_odirect();
	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
