/* cp_child.h — what every child of tide-control does between fork and exec: the local drone,
 * filter checks (cp_drone_local.c) and sandboxed scripts (cp_sandbox.c). One definition, so
 * every child starts with default signal handlers and an empty mask (tide-control's threads
 * block and ignore some), its standard streams where the parent says, and no descriptor of
 * the parent's but those it keeps.
 *
 * Header-only and async-signal-safe: the parent is multi-threaded, so between fork and exec a
 * child may only make system calls. Each returns 0 or -1 with errno, like the calls it wraps. */
#ifndef CP_CHILD_H
#define CP_CHILD_H

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Every signal to its default action, none blocked. */
static inline int
cp_child_reset_signals(void)
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		(void)sigaction(s, &dfl, NULL); /* SIGKILL, SIGSTOP and glibc's own refuse: fine */
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

/* stdin from in_fd, stdout and stderr to out_fd. */
static inline int
cp_child_stdio(int in_fd, int out_fd)
{
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		return -1;
	return 0;
}

/* Closes every descriptor from 3 up but those in keep (ascending, each >= 3). */
static inline int
cp_child_close_fds(const int *keep, int nkeep)
{
	unsigned int lo = 3;

	for (int i = 0; i < nkeep; i++) {
		unsigned int fd = (unsigned int)keep[i];
		if (fd > lo && close_range(lo, fd - 1, 0) < 0)
			return -1;
		lo = fd + 1;
	}
	return close_range(lo, ~0u, 0);
}

#endif
