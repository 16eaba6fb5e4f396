// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_prof [-d SECONDS] CMD [ARGS...]: the guest side of lab/profile.sh.
 * Run CMD; reset the kernel's tick profile (/proc/profile: boot with
 * profile=2) as it starts, or -d SECONDS later (to leave its set-up out);
 * then, when it exits,
 * print every kernel text bucket that took samples while it ran as
 * "prof: IDX COUNT" after one "prof: step BYTES" line.  The host resolves
 * bucket IDX to _stext + IDX * BYTES with the kernel's System.map.
 * Exits with CMD's status.
 */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	printf("prof: FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned int step, *buf;
	size_t len = 0, cap = 1 << 20;
	ssize_t n;
	unsigned int delay = 0;
	int fd, status, opt;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+d:")) != -1) {
		if (opt != 'd')
			goto usage;
		delay = strtoul(optarg, NULL, 10);
	}
	if (optind >= argc) {
usage:
		fprintf(stderr, "usage: ksm_prof [-d SECONDS] CMD [ARGS...]\n");
		return 2;
	}
	fd = open("/proc/profile", O_RDWR);
	if (fd < 0)
		die("/proc/profile (a kernel with CONFIG_PROFILING, booted with profile=2?)");
	if (write(fd, "0\n", 2) != 2)
		die("resetting /proc/profile");

	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		execvp(argv[optind], argv + optind);
		die(argv[optind]);
	}
	if (delay) {
		sleep(delay);
		if (write(fd, "0\n", 2) != 2)
			die("resetting /proc/profile");
		printf("prof: reset %u s after the start\n", delay);
	}
	close(fd);
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");

	fd = open("/proc/profile", O_RDONLY);
	if (fd < 0)
		die("/proc/profile");
	buf = malloc(cap);
	while (buf && (n = read(fd, (char *)buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (!buf || n < 0)
		die("reading /proc/profile");
	close(fd);
	step = buf[0];
	printf("prof: step %u\n", step);
	for (size_t i = 1; i < len / sizeof(*buf); i++)
		if (buf[i])
			printf("prof: %zu %u\n", i - 1, buf[i]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
