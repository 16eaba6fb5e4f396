// SPDX-License-Identifier: GPL-2.0
/*
 * Page integrity under load.
 *
 * Several processes each own an area of pages whose contents come from a
 * small set (so that pages merge, within and across processes).  While
 * ksmd runs flat out (pages_to_scan large, sleep_millisecs 0), each process
 * keeps rewriting random pages; the content of a page is a function of a
 * per-process seed, the page index and a generation counter the process
 * tracks, so it always knows what every page must hold, and checks each
 * page right before it rewrites it.  Now and then a
 * process also unmerges and re-registers a chunk (MADV_UNMERGEABLE, then
 * MADV_MERGEABLE).  Every page is checked periodically and at the end:
 * zero mismatches are required, and KSM must have merged pages (and COWed
 * them) during the run, or the run proves nothing and fails.
 *
 * Then the writes pause: every process reports how many of its pages hold
 * each key, and KSM must reach exactly the share that implies (one KSM
 * page per key held by two pages or more, the rest of them sharing it, a
 * page alone with its key unshared, nothing volatile) and keep it for two
 * full scans; every page is checked once more after that.
 *
 * Usage: ksm_integrity [-t SECONDS] [-s SEED] [-p PROCESSES] [-n PAGES]
 * (defaults: 120 s, seed from the clock, 4 processes, 256 pages each).
 * The seed is printed; -s repeats a run.
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include <getopt.h>
#include "ksm_util.h"

#define NKEYS		8
#define CHUNK		16
#define CHECK_MS	2000

struct report {
	unsigned long writes;
	unsigned long checks;
	unsigned long bad;
	unsigned long toggles;
	unsigned long held[NKEYS + 1];	/* pages holding key k, at the pause */
};

static unsigned long long seed;
static unsigned int nproc = 4, npages = 256, seconds = 120;

static unsigned long long page_key(unsigned int proc, unsigned int page,
				   unsigned int gen)
{
	unsigned long long x = seed ^ ((unsigned long long)proc << 48) ^
			       ((unsigned long long)page << 24) ^ gen;

	return 1 + ksm_mix64(x) % NKEYS;
}

static unsigned long long rnd(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned long check_all(unsigned int proc, char *area,
			       const unsigned int *gen, const char *when)
{
	unsigned long bad = 0;
	unsigned int i;
	long off;

	for (i = 0; i < npages; i++) {
		unsigned long long key = page_key(proc, i, gen[i]);

		off = ksm_check_page(ksm_page_addr(area, i), key);
		if (off < 0)
			continue;
		if (bad++ < 5)
			printf("# proc %u %s: page %u gen %u key %llu: mismatch at offset %ld\n",
			       proc, when, i, gen[i], key, off);
	}
	return bad;
}

static void worker(unsigned int proc, int fd, int go, long long deadline)
{
	unsigned long long s = ksm_mix64(seed + proc) | 1;
	struct report r = { 0 };
	long long next_check;
	unsigned int *gen, i, p;
	char *area;

	gen = calloc(npages, sizeof(*gen));
	area = mmap(NULL, npages * ksm_page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!gen || area == MAP_FAILED)
		_exit(2);
	for (i = 0; i < npages; i++)
		ksm_fill_page(ksm_page_addr(area, i), page_key(proc, i, 0));
	if (madvise(area, npages * ksm_page_size, MADV_MERGEABLE))
		_exit(3);

	next_check = ksm_now_ms() + CHECK_MS;
	while (ksm_now_ms() < deadline) {
		for (i = 0; i < 4; i++) {
			p = rnd(&s) % npages;
			/* A lost write would be overwritten unseen: check first. */
			if (ksm_check_page(ksm_page_addr(area, p),
					   page_key(proc, p, gen[p])) >= 0) {
				if (r.bad++ < 5)
					printf("# proc %u: page %u gen %u wrong before its rewrite\n",
					       proc, p, gen[p]);
			}
			r.checks++;
			gen[p]++;
			ksm_fill_page(ksm_page_addr(area, p), page_key(proc, p, gen[p]));
			r.writes++;
		}
		if (rnd(&s) % 64 == 0) {
			p = rnd(&s) % (npages / CHUNK) * CHUNK;
			if (madvise(ksm_page_addr(area, p), CHUNK * ksm_page_size,
				    MADV_UNMERGEABLE) ||
			    madvise(ksm_page_addr(area, p), CHUNK * ksm_page_size,
				    MADV_MERGEABLE)) {
				printf("# proc %u: madvise: %s\n", proc, strerror(errno));
				r.bad++;
			}
			r.toggles++;
		}
		if (ksm_now_ms() >= next_check) {
			r.bad += check_all(proc, area, gen, "periodic check");
			r.checks++;
			next_check = ksm_now_ms() + CHECK_MS;
		}
		usleep(20000);
	}
	r.bad += check_all(proc, area, gen, "final check");
	r.checks++;
	for (i = 0; i < npages; i++)
		r.held[page_key(proc, i, gen[i])]++;
	fflush(stdout);
	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(4);
	/* Paused until the counters have been checked: then once more. */
	if (read(go, &i, 1) != 0)
		_exit(5);
	r.bad = check_all(proc, area, gen, "check after the pause");
	fflush(stdout);
	if (write(fd, &r.bad, sizeof(r.bad)) != sizeof(r.bad))
		_exit(4);
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned long max_sharing = 0, scans0, scans;
	long long deadline, cow0, cow1;
	struct report r, total = { 0 };
	struct ksm_counters want = { 0, 0, 0, 0, 0, 0 };
	bool ok = true, seeded = false, shared_ok;
	unsigned long bad_after = 0, bad;
	int opt, fds[2], go[2];
	unsigned int i, k;
	pid_t *pids;

	while ((opt = getopt(argc, argv, "t:s:p:n:")) != -1) {
		switch (opt) {
		case 't':
			seconds = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'p':
			nproc = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			npages = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-t SECONDS] [-s SEED] [-p PROCESSES] [-n PAGES]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	if (!seconds || !nproc || nproc > 64 || npages < CHUNK)
		ksft_exit_fail_msg("bad arguments\n");
	if (!seeded)
		seed = ksm_mix64(time(NULL) ^ ((unsigned long long)getpid() << 32));

	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(2 * nproc * npages + 100, 0, seconds + 240);
	/* One KSM page per key, however many pages hold it. */
	if (nproc * npages > 256)
		ksm_set("max_page_sharing", nproc * npages);
	ksft_print_msg("seed %llu (-s %llu repeats this run), %u processes x %u pages, %u s\n",
		       seed, seed, nproc, npages, seconds);

	pids = calloc(nproc, sizeof(*pids));
	if (!pids || pipe(fds) || pipe(go))
		ksft_exit_fail_msg("setup: %s\n", strerror(errno));
	ksm_set("run", 1);
	scans0 = ksm_full_scans();
	cow0 = ksm_vmstat("cow_ksm");
	deadline = ksm_now_ms() + seconds * 1000LL;
	for (i = 0; i < nproc; i++) {
		pids[i] = ksm_fork();
		if (!pids[i]) {
			close(fds[0]);
			close(go[1]);
			worker(i, fds[1], go[0], deadline);
		}
	}
	close(fds[1]);
	close(go[0]);

	while (ksm_now_ms() < deadline) {
		unsigned long sharing = ksm_read("pages_sharing");

		if (sharing > max_sharing)
			max_sharing = sharing;
		usleep(100000);
	}
	for (i = 0; i < nproc; i++) {
		if (read(fds[0], &r, sizeof(r)) != sizeof(r)) {
			ksft_print_msg("a process sent no report\n");
			ok = false;
			break;
		}
		total.writes += r.writes;
		total.checks += r.checks;
		total.bad += r.bad;
		total.toggles += r.toggles;
		for (k = 1; k <= NKEYS; k++)
			total.held[k] += r.held[k];
	}
	/* The share the data implies, now that the writes have paused. */
	for (k = 1; k <= NKEYS; k++) {
		if (total.held[k] >= 2) {
			want.shared++;
			want.sharing += total.held[k] - 1;
		} else {
			want.unshared += total.held[k];
		}
	}
	shared_ok = ok && ksm_wait_counters(&want);
	close(go[1]);
	for (i = 0; ok && i < nproc; i++) {
		if (read(fds[0], &bad, sizeof(bad)) != sizeof(bad)) {
			ksft_print_msg("a process sent no report after the pause\n");
			ok = false;
			break;
		}
		bad_after += bad;
	}
	for (i = 0; i < nproc; i++)
		ok = ksm_wait_child(pids[i], "worker") && ok;
	scans = ksm_full_scans() - scans0;
	cow1 = ksm_vmstat("cow_ksm");

	ksft_print_msg("%lu writes, %lu unmerge/re-merge toggles, %lu checks, %lu mismatches\n",
		       total.writes, total.toggles, total.checks, total.bad);
	ksft_print_msg("%lu full scans, max pages_sharing %lu, cow_ksm +%lld\n",
		       scans, max_sharing, cow0 >= 0 ? cow1 - cow0 : -1);

	ksft_test_result(ok && total.bad == 0 && bad_after == 0 && total.checks >= nproc,
			 "every page held its expected content at every check (seed %llu)\n",
			 seed);
	ksft_test_result(shared_ok,
			 "writes paused: pages_shared %ld pages_sharing %ld pages_unshared %ld, nothing volatile, as the keys held imply\n",
			 want.shared, want.sharing, want.unshared);
	ksft_test_result(scans >= 2 && max_sharing > 0,
			 "ksmd scanned and merged during the run\n");
	if (cow0 < 0)
		ksft_test_result_skip("no cow_ksm in /proc/vmstat\n");
	else
		ksft_test_result(cow1 > cow0, "merged pages were written (cow_ksm grew)\n");
	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
