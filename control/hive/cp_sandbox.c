/* cp_sandbox.c — the post-processing sandbox: a job's script under bubblewrap, seccomp and limits.
 *
 * The design, the view the script gets and the list of what is denied are in cp_sandbox.h. Here:
 *
 * Each run happens in a thread of its own which first unshares its mount namespace (a thread may:
 * CLONE_NEWNS only implies CLONE_FS) and stages there, on a small tmpfs over staging_dir:
 *   job/      a bind of the dataset, read-only
 *   scratch/  the size-capped scratch tmpfs
 *   tools/    a bind of tools_dir, read-only
 * bwrap runs as the sandbox uid and opens its sources by path (even for --bind-fd), so it could
 * not cross the 0700 data directory; the staging directory is on a path it can. Nothing is
 * mounted on the host, and when the thread ends the namespace and the tmpfs go with it, even if
 * tide-control is killed mid-run. The scratch's content is copied into processed_dir (through a
 * descriptor) once every sandbox process has ended.
 *
 * The forked child joins the run's cgroup, sets rlimits, resets signals, keeps only the
 * descriptors bwrap consumes, drops to the sandbox uid and execs bwrap; after fork it makes only
 * system calls (tide-control is multi-threaded). bwrap reports its pid-1 and the script's exit
 * code on --json-status-fd: an exit code means the script ran; none, without us having stopped
 * it, means bwrap failed during set-up (-EIO; its message is in the log).
 *
 * The supervising loop polls the output pipe, the status pipe and a pidfd of bwrap with the next
 * deadline as timeout, so it sleeps until there is output, an exit or a deadline. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/sched.h>
#include <seccomp.h>

#include "tide_log.h"
#include "cp_child.h"
#include "cp_sandbox.h"
#include "tide_time.h"
#include "cp_sandbox_cgroup.h"
#include "tide_fs.h"

#define MOD "sandbox"
#define ARGV_MAX 256        /* bwrap arguments; build_argv uses about 150 */
#define KEEP_MAX 12         /* descriptors handed to bwrap; build_argv uses 6 */
#define STATUS_MAX 2048     /* bwrap's JSON status lines are < 300 bytes each */
#define COPY_BUF (64u << 10)
#define DRAIN_MS 2000       /* after bwrap exits, wait this long at most for the pipe's EOF */
#define SCRIPT_DEST "/run/tide/script"
#define PATH_BASE "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

/* ---- seccomp ---------------------------------------------------------------------------- */

/* Denied with EPERM; reasons in cp_sandbox.h. Names unknown on this architecture resolve to
 * libseccomp pseudo-numbers, which it ignores. */
static const int denied_syscalls[] = {
	SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	SCMP_SYS(mount), SCMP_SYS(umount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
	SCMP_SYS(chroot), SCMP_SYS(open_tree), SCMP_SYS(move_mount), SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig), SCMP_SYS(fsmount), SCMP_SYS(fspick), SCMP_SYS(mount_setattr),
	SCMP_SYS(unshare), SCMP_SYS(setns),
	SCMP_SYS(keyctl), SCMP_SYS(add_key), SCMP_SYS(request_key),
	SCMP_SYS(bpf), SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd),
	SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
	SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load), SCMP_SYS(init_module),
	SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(reboot), SCMP_SYS(swapon),
	SCMP_SYS(swapoff), SCMP_SYS(acct), SCMP_SYS(quotactl), SCMP_SYS(quotactl_fd),
	SCMP_SYS(iopl), SCMP_SYS(ioperm), SCMP_SYS(syslog), SCMP_SYS(vhangup), SCMP_SYS(uselib),
	SCMP_SYS(lookup_dcookie), SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
	SCMP_SYS(settimeofday), SCMP_SYS(clock_settime), SCMP_SYS(clock_adjtime),
	SCMP_SYS(adjtimex),
};

static const unsigned long clone_ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
	CLONE_NEWCGROUP,
};

static const int denied_families[] = { AF_NETLINK, AF_PACKET };

/* Builds the filter and exports it as BPF into a memfd, which is what bwrap --seccomp reads.
 * Returns the descriptor (positioned at 0) or -errno. */
static int
seccomp_build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; rc == 0 && i < sizeof(denied_syscalls) / sizeof(denied_syscalls[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied_syscalls[i], 0);
	/* clone's first argument is the flags word on x86-64 and arm64 alike */
	for (size_t i = 0; rc == 0 && i < sizeof(clone_ns_flags) / sizeof(clone_ns_flags[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	for (size_t i = 0; rc == 0 && i < sizeof(denied_families) / sizeof(denied_families[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
			SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)denied_families[i]));
	/* the type argument may carry SOCK_CLOEXEC / SOCK_NONBLOCK above the low 4 bits */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
			SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW));
	int fd = -1;
	if (rc == 0) {
		fd = memfd_create("tide-sandbox-seccomp", MFD_CLOEXEC);
		if (fd < 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = seccomp_export_bpf(ctx, fd);
	if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
		rc = -errno;
	seccomp_release(ctx);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

/* ---- small helpers ---------------------------------------------------------------------- */


/* Moves fd to a number >= 3 (a daemon may run with 0-2 closed; the child overwrites those) and
 * keeps it close-on-exec. Returns the new descriptor or -errno; fd is consumed either way. */
static int
fd_high(int fd)
{
	if (fd < 0)
		return -errno;
	if (fd > 2)
		return fd;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int err = errno;
	close(fd);
	return n < 0 ? -err : n;
}

static int
memfd_with(const char *name, const char *text)
{
	int fd = fd_high(memfd_create(name, MFD_CLOEXEC));
	if (fd < 0)
		return fd;
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) < 0) {
		int err = errno ? errno : EIO;
		close(fd);
		return -err;
	}
	return fd;
}

/* ---- one run ---------------------------------------------------------------------------- */

enum phase { RUNNING, TERM_SENT, KILL_SENT };

static const char *const root_dirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };
#define ROOT_DIRS (sizeof(root_dirs) / sizeof(root_dirs[0]))

struct run {
	struct cp_sandbox_params p; /* the caller's, with defaults filled in */
	struct cp_sandbox_result *r;
	int rc;
	bool shebang;
	bool mounted;
	char stage_job[PATH_MAX + 8], stage_scratch[PATH_MAX + 8], stage_tools[PATH_MAX + 8];
	char name[64]; /* cgroup directory: tide-sandbox-<pid>-<tid> */
	struct cp_cgroup cg;

	/* descriptors, -1 when closed; all close-on-exec and >= 3 */
	int script_fd, dataset_fd, under_fd, scratch_fd, tools_fd, log_fd;
	int seccomp_fd, passwd_fd, group_fd, hosts_fd, null_fd;
	int out_r, out_w, status_r, status_w, err_r, err_w;

	/* everything the child needs, prepared before fork */
	char *argv[ARGV_MAX];
	int argc;
	bool argv_full;
	char nums[24][24];
	int nnums;
	char links[ROOT_DIRS][PATH_MAX];
	char path_env[PATH_MAX];
	int keep[KEEP_MAX + 1]; /* sorted; handed to bwrap, plus err_w */
	int nkeep;
	struct { int resource; rlim_t value; } limits[5];
	int nlimits;

	/* supervision */
	pid_t pid, p1;
	int pidfd, p1fd;
	dev_t ns_dev;
	ino_t ns_ino;
	enum phase phase;
	char status[STATUS_MAX];
	size_t status_len;
	bool have_exit;
	int exit_code;
	uint64_t log_written;
	bool log_failed;
	char log_last; /* last byte kept, so the trailer starts on a line of its own */
	char *buf;     /* COPY_BUF bytes: pipe reads and the copy-out */
};

/* Read-only from the host when present: what dynamic linking, tshark, python3 and file(1)
 * look up. Nothing with secrets (shadow, ssl/private, the tide configuration). */
static const char *const etc_files[] = {
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
	"/etc/ssl/certs", "/etc/localtime", "/etc/nsswitch.conf", "/etc/protocols",
	"/etc/services", "/etc/mime.types", "/etc/magic", "/etc/magic.mime", "/etc/wireshark",
};

static const char etc_passwd[] = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
				 "nobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n";
static const char etc_group[] = "root:x:0:\nnogroup:x:65534:\n";
static const char etc_hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/* Appends the NULL-terminated list of arguments. */
static void
args(struct run *run, ...)
{
	va_list ap;
	va_start(ap, run);
	for (const char *s; (s = va_arg(ap, const char *));) {
		if (run->argc < ARGV_MAX - 1)
			run->argv[run->argc++] = (char *)s;
		else
			run->argv_full = true;
	}
	va_end(ap);
}

/* Formats one number into the run's argument storage. */
static const char *
num(struct run *run, const char *fmt, unsigned long long v)
{
	if (run->nnums >= (int)(sizeof(run->nums) / sizeof(run->nums[0]))) {
		run->argv_full = true;
		return "0";
	}
	snprintf(run->nums[run->nnums], sizeof(run->nums[0]), fmt, v);
	return run->nums[run->nnums++];
}

/* "[--perms MODE] OPT FD [DEST]": a descriptor bwrap reads, kept open across exec. */
static void
arg_fd(struct run *run, unsigned mode, const char *opt, int fd, const char *dest)
{
	if (mode)
		args(run, "--perms", num(run, "%04llo", mode), NULL);
	args(run, opt, num(run, "%llu", (unsigned)fd), dest, NULL);
	if (run->nkeep < KEEP_MAX)
		run->keep[run->nkeep++] = fd;
	else
		run->argv_full = true;
}

static int
build_argv(struct run *run)
{
	const struct cp_sandbox_params *p = &run->p;
	snprintf(run->path_env, sizeof(run->path_env), "%s%s",
		run->tools_fd >= 0 ? "/opt/tide/bin:/opt/tide:" : "", PATH_BASE);
	args(run, p->bwrap_path, "--unshare-all", "--unshare-user", "--disable-userns",
		"--die-with-parent", "--new-session", "--uid", "65534", "--gid", "65534",
		"--hostname", "tide-sandbox", "--cap-drop", "ALL", "--clearenv",
		"--setenv", "PATH", run->path_env, "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR",
		"/tmp", "--setenv", "LANG", "C.UTF-8", "--setenv", "TIDE_DATASET", "/job",
		"--setenv", "TIDE_PROCESSED", "/job/processed", "--ro-bind", "/usr", "/usr", NULL);
	/* merged-/usr hosts have these as symlinks into /usr; older layouts as directories */
	for (size_t i = 0; i < ROOT_DIRS; i++) {
		struct stat st;
		if (lstat(root_dirs[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(root_dirs[i], run->links[i], PATH_MAX - 1);
			if (n <= 0)
				continue;
			run->links[i][n] = '\0';
			args(run, "--symlink", run->links[i], root_dirs[i], NULL);
		} else if (S_ISDIR(st.st_mode)) {
			args(run, "--ro-bind", root_dirs[i], root_dirs[i], NULL);
		}
	}
	for (size_t i = 0; i < sizeof(etc_files) / sizeof(etc_files[0]); i++)
		args(run, "--ro-bind-try", etc_files[i], etc_files[i], NULL);
	arg_fd(run, 0644, "--ro-bind-data", run->passwd_fd, "/etc/passwd");
	arg_fd(run, 0644, "--ro-bind-data", run->group_fd, "/etc/group");
	arg_fd(run, 0644, "--ro-bind-data", run->hosts_fd, "/etc/hosts");
	/* without a size these would be half of RAM each, outside RLIMIT_AS */
	const char *tmp_size = num(run, "%llu", p->tmp_max_bytes);
	args(run, "--proc", "/proc", "--dev", "/dev", "--size", tmp_size, "--tmpfs", "/dev/shm",
		"--size", tmp_size, "--tmpfs", "/tmp", "--ro-bind", run->stage_job, "/job",
		"--bind", run->stage_scratch, "/job/processed", NULL);
	if (run->tools_fd >= 0)
		args(run, "--ro-bind", run->stage_tools, "/opt/tide", NULL);
	arg_fd(run, 0555, "--ro-bind-data", run->script_fd, SCRIPT_DEST);
	/* last: the tmpfs root and /dev stay writable only while bwrap builds them */
	args(run, "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/job", NULL);
	arg_fd(run, 0, "--seccomp", run->seccomp_fd, NULL);
	arg_fd(run, 0, "--json-status-fd", run->status_w, NULL);
	if (run->shebang)
		args(run, "--", SCRIPT_DEST, NULL);
	else
		args(run, "--", "/bin/sh", SCRIPT_DEST, NULL);
	run->argv[run->argc] = NULL;
	if (run->argv_full)
		return -E2BIG;

	/* err_w stays open (close-on-exec) in the child: it reports a failed exec */
	run->keep[run->nkeep++] = run->err_w;
	for (int i = 1; i < run->nkeep; i++)
		for (int j = i; j > 0 && run->keep[j - 1] > run->keep[j]; j--) {
			int t = run->keep[j];
			run->keep[j] = run->keep[j - 1];
			run->keep[j - 1] = t;
		}

	/* with a pids cgroup RLIMIT_NPROC is only the backstop: it is checked first at fork and
	 * counts every process of the host uid, so at max_procs it would hide pids.max hits */
	rlim_t nproc = run->cg.pids ? 2 * (rlim_t)p->max_procs : p->max_procs;
	/* FSIZE: bwrap writes the script into its tmpfs under the same limit */
	rlim_t fsize = p->scratch_max_bytes > CP_SANDBOX_SCRIPT_MAX ? p->scratch_max_bytes :
		CP_SANDBOX_SCRIPT_MAX;
	int resource[] = { RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_FSIZE, RLIMIT_CORE, RLIMIT_AS };
	rlim_t value[] = { nproc, p->max_files, fsize, 0, p->memory_max_bytes };
	/* RLIMIT_AS only without a memory cgroup: address space is not memory (tools map more) */
	run->nlimits = run->cg.kind == CP_SANDBOX_RLIMIT ? 5 : 4;
	for (int i = 0; i < run->nlimits; i++) {
		run->limits[i].resource = resource[i];
		run->limits[i].value = value[i];
	}
	return 0;
}

/* After fork, in the child: system calls only (the parent is multi-threaded). Reports the errno
 * of the first failure on err_w; a successful exec closes err_w instead. */
static void __attribute__((noreturn))
child_main(const struct run *run, pid_t parent)
{
	static const char *const envp[] = { "PATH=" PATH_BASE, NULL };
	if (setpgid(0, 0) < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		if (!run->cg.procs[i][0])
			continue;
		int fd = open(run->cg.procs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		if (write(fd, "0", 1) != 1)
			goto fail;
		close(fd);
	}
	for (int i = 0; i < run->nlimits; i++) {
		struct rlimit rl = { run->limits[i].value, run->limits[i].value };
		if (setrlimit(run->limits[i].resource, &rl) < 0)
			goto fail;
	}
	/* tide-control's threads may block or ignore signals; the script must start clean */
	if (cp_child_reset_signals() != 0 || cp_child_stdio(run->null_fd, run->out_w) != 0)
		goto fail;
	/* bwrap inherits what it is handed (the dataset, the script, …): not close-on-exec */
	for (int i = 0; i < run->nkeep; i++)
		if (run->keep[i] != run->err_w && fcntl(run->keep[i], F_SETFD, 0) < 0)
			goto fail;
	if (cp_child_close_fds(run->keep, run->nkeep) != 0)
		goto fail;

	if (syscall(SYS_setgroups, 0, NULL) < 0 ||
		syscall(SYS_setresgid, run->p.gid, run->p.gid, run->p.gid) < 0 ||
		syscall(SYS_setresuid, run->p.uid, run->p.uid, run->p.uid) < 0)
		goto fail;
	/* after the uid change, which clears it: bwrap dies with the supervising thread */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		goto fail;
	execve(run->p.bwrap_path, run->argv, (char *const *)envp);
fail:;
	int err = errno ? errno : EIO;
	if (write(run->err_w, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

static void
closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Sets every descriptor of the run to -1, first closing those that are open when close_them. */
static void
fds_reset(struct run *run, bool close_them)
{
	int *fds[] = { &run->script_fd, &run->dataset_fd, &run->under_fd, &run->scratch_fd,
		&run->tools_fd, &run->log_fd, &run->seccomp_fd, &run->passwd_fd, &run->group_fd,
		&run->hosts_fd, &run->null_fd, &run->out_r, &run->out_w, &run->status_r,
		&run->status_w, &run->err_r, &run->err_w, &run->pidfd, &run->p1fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (close_them)
			closefd(fds[i]);
		*fds[i] = -1;
	}
}

static int
sandbox_start(struct run *run)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_main(run, parent);
	run->pid = pid;
	/* only bwrap holds these now */
	closefd(&run->out_w);
	closefd(&run->status_w);
	closefd(&run->err_w);
	closefd(&run->seccomp_fd);
	closefd(&run->passwd_fd);
	closefd(&run->group_fd);
	closefd(&run->hosts_fd);
	closefd(&run->script_fd);

	int err = 0;
	ssize_t n;
	while ((n = read(run->err_r, &err, sizeof(err))) < 0 && errno == EINTR)
		;
	closefd(&run->err_r);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		run->pid = -1;
		return -err;
	}
	run->pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* -1 before Linux 5.3: polled instead */
	return 0;
}

/* ---- supervision ------------------------------------------------------------------------ */

/* The integer after "key": in bwrap's status JSON, or -1. */
static long
status_int(const char *json, const char *key)
{
	char quoted[32];
	snprintf(quoted, sizeof(quoted), "\"%s\":", key);
	const char *s = strstr(json, quoted);
	return s ? strtol(s + strlen(quoted), NULL, 10) : -1;
}

/* bwrap's pid 1 (host pid) and, later, the script's exit code. The pidfd pins the pid before
 * /proc is read, so the namespace recorded is that process's even if it exits meanwhile. */
static void
status_parse(struct run *run)
{
	long v;
	if (run->p1 <= 0 && (v = status_int(run->status, "child-pid")) > 0) {
		char path[64];
		struct stat st;
		run->p1 = (pid_t)v;
		run->p1fd = (int)syscall(SYS_pidfd_open, run->p1, 0);
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)run->p1);
		if (stat(path, &st) == 0) {
			run->ns_dev = st.st_dev;
			run->ns_ino = st.st_ino;
		}
	}
	if (!run->have_exit && (v = status_int(run->status, "exit-code")) >= 0) {
		run->exit_code = (int)v;
		run->have_exit = true;
	}
}

/* Sends sig to every process in the sandbox's pid namespace except its pid 1 (which ignores it).
 * Visits each entry of /proc once. */
static void
signal_sandbox(struct run *run, int sig)
{
	if (!run->ns_ino)
		return;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == run->p1)
			continue;
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
		if (stat(path, &st) == 0 && st.st_ino == run->ns_ino && st.st_dev == run->ns_dev)
			kill((pid_t)pid, sig);
	}
	closedir(d);
}

/* pid 1's death makes the kernel kill the whole pid namespace; bwrap's group is all that is
 * left outside it. */
static void
kill_hard(struct run *run)
{
	if (run->p1fd >= 0)
		syscall(SYS_pidfd_send_signal, run->p1fd, SIGKILL, NULL, 0);
	else if (run->p1 > 0)
		kill(run->p1, SIGKILL);
	kill(-run->pid, SIGKILL);
	if (run->cg.kind == CP_SANDBOX_CGROUP_V2)
		cp_cgroup_write(run->cg.dir[0], "cgroup.kill", "1"); /* Linux >= 5.14 */
}

static void
log_take(struct run *run, const char *buf, size_t n)
{
	run->r->bytes_out += n;
	uint64_t room = run->p.log_max_bytes - run->log_written;
	size_t keep = n < room ? n : (size_t)room;
	if (keep < n)
		run->r->log_truncated = true;
	if (!keep)
		return;
	if (!run->log_failed && tide_write_all(run->log_fd, buf, keep) < 0)
		run->log_failed = true;
	run->log_written += keep;
	run->log_last = buf[keep - 1];
}

/* Reads what is there; returns false at EOF or on a hard error. */
static bool
drain(struct run *run, int fd, bool is_status)
{
	for (;;) {
		ssize_t n = read(fd, run->buf, COPY_BUF);
		if (n > 0) {
			if (!is_status) {
				log_take(run, run->buf, (size_t)n);
				continue;
			}
			size_t room = sizeof(run->status) - 1 - run->status_len;
			size_t take = (size_t)n < room ? (size_t)n : room;
			memcpy(run->status + run->status_len, run->buf, take);
			run->status_len += take;
			run->status[run->status_len] = '\0';
			status_parse(run);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static int
supervise(struct run *run, int *wstatus)
{
	struct cp_sandbox_result *r = run->r;
	int64_t start = tide_mono_ms();
	int64_t deadline = start + (int64_t)run->p.timeout_s * 1000, kill_at = 0, exited_at = 0;
	bool out_open = true, status_open = true, exited = false;

	fcntl(run->out_r, F_SETFL, O_NONBLOCK);
	fcntl(run->status_r, F_SETFL, O_NONBLOCK);
	while (!exited || out_open || status_open) {
		int64_t now = tide_mono_ms();
		if (exited && now - exited_at > DRAIN_MS)
			break;
		bool cancel = run->p.cancel && atomic_load(run->p.cancel);
		if (!exited && run->phase == RUNNING && (now >= deadline || cancel)) {
			if (now >= deadline)
				r->timed_out = true;
			else
				r->cancelled = true;
			if (run->ns_ino) {
				signal_sandbox(run, SIGTERM);
				run->phase = TERM_SENT;
				kill_at = now + run->p.kill_grace_ms;
			} else {
				kill_hard(run);
				run->phase = KILL_SENT;
			}
		} else if (!exited && run->phase == TERM_SENT && now >= kill_at) {
			kill_hard(run);
			run->phase = KILL_SENT;
		}

		int64_t next = exited ? exited_at + DRAIN_MS :
			run->phase == RUNNING ? deadline : run->phase == TERM_SENT ? kill_at : now + 1000;
		if (run->pidfd < 0 && next > now + 50)
			next = now + 50;
		if (run->p.cancel && next > now + 200)
			next = now + 200;
		struct pollfd pfd[3];
		int n = 0, i_out = -1, i_status = -1, i_pid = -1;
		if (out_open) {
			pfd[n] = (struct pollfd){ .fd = run->out_r, .events = POLLIN };
			i_out = n++;
		}
		if (status_open) {
			pfd[n] = (struct pollfd){ .fd = run->status_r, .events = POLLIN };
			i_status = n++;
		}
		if (!exited && run->pidfd >= 0) {
			pfd[n] = (struct pollfd){ .fd = run->pidfd, .events = POLLIN };
			i_pid = n++;
		}
		int wait_ms = next > now ? (int)(next - now) : 0;
		if (poll(pfd, (nfds_t)n, wait_ms) < 0 && errno != EINTR) {
			int err = errno;
			if (!exited) {
				kill_hard(run);
				while (waitpid(run->pid, wstatus, 0) < 0 && errno == EINTR)
					;
			}
			return -err;
		}
		if (i_out >= 0 && pfd[i_out].revents)
			out_open = drain(run, run->out_r, false);
		if (i_status >= 0 && pfd[i_status].revents)
			status_open = drain(run, run->status_r, true);
		if (!exited && (run->pidfd < 0 || (i_pid >= 0 && pfd[i_pid].revents))) {
			pid_t w = waitpid(run->pid, wstatus, WNOHANG);
			if (w == run->pid || (w < 0 && errno == ECHILD)) {
				exited = true;
				exited_at = tide_mono_ms();
				r->duration_ms = (uint64_t)(exited_at - start);
			}
		}
	}
	/* bwrap may die (our SIGKILL) before its pid 1 has finished taking the namespace down; pid
	 * 1's pidfd is signalled only after that, so the scratch is quiet once it is */
	if (run->p1fd >= 0) {
		struct pollfd p1 = { .fd = run->p1fd, .events = POLLIN };
		while (poll(&p1, 1, DRAIN_MS) < 0 && errno == EINTR)
			;
	}
	return 0;
}

/* ---- copy-out --------------------------------------------------------------------------- */

static int
copy_file(struct run *run, int src_dir, int dst_dir, const char *name, uint64_t *budget)
{
	int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0) {
		int err = errno;
		close(in);
		return -err;
	}
	int rc = 0;
	ssize_t n;
	while ((n = read(in, run->buf, COPY_BUF)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		/* the scratch cannot hold more than the budget: sparse files could claim it */
		if ((uint64_t)n > *budget) {
			rc = -EFBIG;
			break;
		}
		rc = tide_write_all(out, run->buf, (size_t)n) < 0 ? -errno : 0;
		if (rc < 0)
			break;
		*budget -= (uint64_t)n;
		run->r->processed_bytes += (uint64_t)n;
	}
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Copies regular files and directories of src into dst (both directories, dst empty); depth is
 * bounded by CP_SANDBOX_MAX_DEPTH, bytes by budget, entries by the scratch's inode cap. */
static int
copy_tree(struct run *run, int src, int dst, int depth, uint64_t *budget)
{
	int dup_src = fcntl(src, F_DUPFD_CLOEXEC, 3);
	if (dup_src < 0)
		return -errno;
	DIR *d = fdopendir(dup_src);
	if (!d) {
		int err = errno;
		close(dup_src);
		return -err;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		const char *name = e->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size <= *budget) {
			rc = copy_file(run, src, dst, name, budget);
			if (rc == -EFBIG) {
				unlinkat(dst, name, 0);
				run->r->processed_skipped++;
				rc = 0;
			} else if (rc == 0) {
				run->r->processed_files++;
			}
		} else if (S_ISDIR(st.st_mode) && depth < CP_SANDBOX_MAX_DEPTH) {
			if (mkdirat(dst, name, 0755) < 0) {
				rc = -errno;
				break;
			}
			int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int t = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = s < 0 || t < 0 ? -errno : copy_tree(run, s, t, depth + 1, budget);
			if (s >= 0)
				close(s);
			if (t >= 0)
				close(t);
		} else {
			run->r->processed_skipped++; /* symlink, fifo, socket, device, too big or deep */
		}
	}
	closedir(d);
	return rc;
}

/* ---- set-up and tear-down --------------------------------------------------------------- */

static int
open_dir(const char *path, int flags)
{
	return fd_high(open(path, flags | O_DIRECTORY | O_CLOEXEC));
}

static int
dir_is_empty(int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return -err;
	}
	int rc = 1;
	struct dirent *e;
	while (rc == 1 && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			rc = 0;
	closedir(d);
	return rc;
}

static int
pipe_high(int *r, int *w)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	*r = fd_high(fds[0]);
	*w = fd_high(fds[1]);
	return *r < 0 ? *r : *w < 0 ? *w : 0;
}

/* Everything that can fail because of the caller's input, before anything is mounted. */
static int
sandbox_prepare(struct run *run)
{
	const struct cp_sandbox_params *p = &run->p;
	struct stat st;
	if (access(p->bwrap_path, X_OK) < 0) {
		int err = errno;
		tide_error(MOD, "bubblewrap not usable at %s: %s", p->bwrap_path, strerror(err));
		return -err;
	}
	run->script_fd = fd_high(open(p->script_path, O_RDONLY | O_CLOEXEC));
	if (run->script_fd < 0)
		return run->script_fd;
	if (fstat(run->script_fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > CP_SANDBOX_SCRIPT_MAX)
		return -EFBIG;
	char magic[2] = { 0, 0 };
	run->shebang = pread(run->script_fd, magic, 2, 0) == 2 && magic[0] == '#' && magic[1] == '!';

	run->dataset_fd = open_dir(p->dataset_dir, O_PATH);
	if (run->dataset_fd < 0)
		return run->dataset_fd;
	if (fstatat(run->dataset_fd, "processed", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	run->under_fd = open_dir(p->processed_dir, O_RDONLY);
	if (run->under_fd < 0)
		return run->under_fd;
	int empty = dir_is_empty(run->under_fd);
	if (empty <= 0)
		return empty < 0 ? empty : -ENOTEMPTY;
	if (p->tools_dir) {
		run->tools_fd = open_dir(p->tools_dir, O_PATH);
		if (run->tools_fd < 0)
			return run->tools_fd;
	}
	run->log_fd = fd_high(open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		0640));
	if (run->log_fd < 0)
		return run->log_fd;

	int fd = seccomp_build();
	if (fd < 0)
		return fd;
	if ((run->seccomp_fd = fd_high(fd)) < 0)
		return run->seccomp_fd;
	if ((run->passwd_fd = memfd_with("tide-sandbox-passwd", etc_passwd)) < 0)
		return run->passwd_fd;
	if ((run->group_fd = memfd_with("tide-sandbox-group", etc_group)) < 0)
		return run->group_fd;
	if ((run->hosts_fd = memfd_with("tide-sandbox-hosts", etc_hosts)) < 0)
		return run->hosts_fd;
	run->null_fd = fd_high(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (run->null_fd < 0)
		return run->null_fd;
	int rc = pipe_high(&run->out_r, &run->out_w);
	if (rc == 0)
		rc = pipe_high(&run->status_r, &run->status_w);
	if (rc == 0)
		rc = pipe_high(&run->err_r, &run->err_w);
	if (rc == 0 && !(run->buf = malloc(COPY_BUF)))
		rc = -ENOMEM;
	return rc;
}

/* Binds path read-only on dest. The descriptor opened during validation belongs to the host's
 * mount namespace, which bind mounts may not take from (EINVAL); the path is opened again here
 * and must still be the same directory. */
static int
mount_bind_ro(const char *path, int checked_fd, const char *dest)
{
	struct stat a, b;
	int fd = open_dir(path, O_PATH);
	if (fd < 0)
		return fd;
	int rc = 0;
	if (fstat(fd, &a) < 0 || fstat(checked_fd, &b) < 0)
		rc = -errno;
	else if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		rc = -ESTALE;
	char src[32];
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (rc == 0 && (mount(src, dest, NULL, MS_BIND, NULL) < 0 ||
		mount(NULL, dest, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0))
		rc = -errno;
	close(fd);
	return rc;
}

/* The staging tree (see the top of this file), in this thread's own mount namespace. */
static int
staging_mount(struct run *run)
{
	const struct cp_sandbox_params *p = &run->p;
	const char *stage = p->staging_dir;
	if (unshare(CLONE_NEWNS) < 0) {
		int err = errno;
		tide_error(MOD, "unshare(CLONE_NEWNS): %s (the sandbox needs root)", strerror(err));
		return -err;
	}
	/* slave: host mounts still reach us, ours never reach the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -errno;
	/* the directory itself stays on the host, empty, shared by all runs */
	if (mkdir(stage, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount("tide-sandbox", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		"size=64k,nr_inodes=16,mode=0755") < 0) {
		int err = errno;
		tide_error(MOD, "staging tmpfs on %s: %s", stage, strerror(err));
		return -err;
	}
	run->mounted = true;
	snprintf(run->stage_job, sizeof(run->stage_job), "%s/job", stage);
	snprintf(run->stage_scratch, sizeof(run->stage_scratch), "%s/scratch", stage);
	snprintf(run->stage_tools, sizeof(run->stage_tools), "%s/tools", stage);
	if (mkdir(run->stage_job, 0755) < 0 || mkdir(run->stage_scratch, 0755) < 0 ||
		mkdir(run->stage_tools, 0755) < 0)
		return -errno;
	int rc = mount_bind_ro(p->dataset_dir, run->dataset_fd, run->stage_job);
	if (rc == 0 && run->tools_fd >= 0)
		rc = mount_bind_ro(p->tools_dir, run->tools_fd, run->stage_tools);
	if (rc < 0)
		return rc;
	char opts[160];
	snprintf(opts, sizeof(opts), "size=%llu,nr_inodes=%u,mode=0755,uid=%u,gid=%u",
		(unsigned long long)p->scratch_max_bytes, p->scratch_max_inodes, (unsigned)p->uid,
		(unsigned)p->gid);
	if (mount("tide-scratch", run->stage_scratch, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return -errno;
	run->scratch_fd = open_dir(run->stage_scratch, O_RDONLY);
	return run->scratch_fd < 0 ? run->scratch_fd : 0;
}

static void
cgroup_setup(struct run *run)
{
	const struct cp_sandbox_params *p = &run->p;
	run->cg.kind = CP_SANDBOX_RLIMIT;
	if (p->force_rlimit)
		return;
	int rc2 = cp_cgroup_v2(&run->cg, p->cgroup_parent, p->memory_max_bytes, p->max_procs, run->name);
	if (rc2 == 0)
		return;
	cp_cgroup_remove(&run->cg);
	int rc1 = -EOPNOTSUPP;
	if (!p->cgroup_parent) {
		rc1 = cp_cgroup_v1(&run->cg, p->memory_max_bytes, p->max_procs, run->name);
		if (rc1 == 0)
			return;
		cp_cgroup_remove(&run->cg);
	}
	memset(&run->cg, 0, sizeof(run->cg));
	run->cg.kind = CP_SANDBOX_RLIMIT;
	tide_warn(MOD, "no usable memory cgroup (v2: %s; v1: %s): limiting memory by RLIMIT_AS",
		strerror(-rc2), strerror(-rc1));
}

static void
collect(struct run *run, int wstatus)
{
	struct cp_sandbox_result *r = run->r;
	struct cp_cgroup *cg = &run->cg;
	if (cg->kind == CP_SANDBOX_CGROUP_V2) {
		r->memory_exceeded = cp_cgroup_counter(cg->dir[0], "memory.events", "oom_kill") > 0;
		r->pids_exceeded = cp_cgroup_counter(cg->dir[0], "pids.events", "max") > 0;
	} else if (cg->kind == CP_SANDBOX_CGROUP_V1) {
		r->memory_exceeded = cp_cgroup_counter(cg->dir[0], "memory.oom_control", "oom_kill") > 0;
		r->pids_exceeded = cp_cgroup_counter(cg->dir[1], "pids.events", "max") > 0;
	}
	if (run->have_exit) {
		r->exit_status = run->exit_code;
		if (run->exit_code > 128 && run->exit_code < 128 + NSIG)
			r->signal = run->exit_code - 128;
	} else if (run->phase != RUNNING) {
		r->signal = run->phase == KILL_SENT ? SIGKILL : SIGTERM;
	} else if (WIFSIGNALED(wstatus)) {
		r->signal = WTERMSIG(wstatus);
	} else {
		run->rc = -EIO; /* bwrap gave up before the script started */
	}
	struct statvfs sv;
	if (fstatvfs(run->scratch_fd, &sv) == 0 && (sv.f_bfree == 0 || sv.f_ffree == 0))
		r->scratch_exceeded = true;
	if (r->signal == SIGXFSZ)
		r->scratch_exceeded = true;
}

static void
log_trailer(struct run *run)
{
	const struct cp_sandbox_params *p = &run->p;
	const struct cp_sandbox_result *r = run->r;
	char t[1024];
	size_t n = 0;
#define TRAILER(...) \
	(n += (size_t)snprintf(t + n, n < sizeof(t) ? sizeof(t) - n : 0, __VA_ARGS__))
	if (run->log_written && run->log_last != '\n')
		TRAILER("\n");
	if (r->log_truncated)
		TRAILER("[tide-sandbox] output cut at %llu bytes (%llu written)\n",
			(unsigned long long)p->log_max_bytes, (unsigned long long)r->bytes_out);
	if (r->timed_out)
		TRAILER("[tide-sandbox] stopped at the wall-clock limit of %u s\n", p->timeout_s);
	if (r->memory_exceeded)
		TRAILER("[tide-sandbox] memory limit of %llu bytes reached\n",
			(unsigned long long)p->memory_max_bytes);
	if (r->pids_exceeded)
		TRAILER("[tide-sandbox] process limit of %u reached\n", p->max_procs);
	if (r->scratch_exceeded)
		TRAILER("[tide-sandbox] scratch limit of %llu bytes reached\n",
			(unsigned long long)p->scratch_max_bytes);
	if (r->processed_skipped)
		TRAILER("[tide-sandbox] %u entries of processed/ not kept (not regular files or "
			"directories, or too large or deep)\n", r->processed_skipped);
	if (run->rc == -EIO)
		TRAILER("[tide-sandbox] the sandbox could not be set up\n");
	else if (r->exit_status >= 0)
		TRAILER("[tide-sandbox] exit status %d after %llu ms\n", r->exit_status,
			(unsigned long long)r->duration_ms);
	else
		TRAILER("[tide-sandbox] killed by signal %d after %llu ms\n", r->signal,
			(unsigned long long)r->duration_ms);
#undef TRAILER
	if (!run->log_failed)
		(void)tide_write_all(run->log_fd, t, n < sizeof(t) ? n : sizeof(t) - 1);
}

static int
run_sandbox(struct run *run)
{
	const struct cp_sandbox_params *p = &run->p;
	struct cp_sandbox_result *r = run->r;
	snprintf(run->name, sizeof(run->name), "tide-sandbox-%d-%d", (int)getpid(), (int)gettid());
	int rc = sandbox_prepare(run);
	if (rc == 0)
		rc = staging_mount(run);
	if (rc == 0) {
		cgroup_setup(run);
		r->limiter = run->cg.kind;
		rc = build_argv(run);
	}
	if (rc == 0)
		rc = sandbox_start(run);
	if (rc < 0) {
		if (run->log_fd >= 0) {
			char line[256];
			int n = snprintf(line, sizeof(line), "[tide-sandbox] could not start: %s\n",
				strerror(-rc));
			(void)tide_write_all(run->log_fd, line, (size_t)n);
		}
		tide_error(MOD, "%s: could not start: %s", p->script_path, strerror(-rc));
	} else {
		int wstatus = 0;
		rc = supervise(run, &wstatus);
		if (rc == 0) {
			collect(run, wstatus);
			uint64_t budget = p->scratch_max_bytes;
			int copy = copy_tree(run, run->scratch_fd, run->under_fd, 0, &budget);
			if (copy < 0) {
				tide_error(MOD, "copying %s out of the scratch: %s", p->processed_dir,
					strerror(-copy));
				if (run->rc == 0)
					run->rc = copy;
			}
			rc = run->rc;
		}
		log_trailer(run);
		tide_info(MOD, "%s: exit=%d signal=%d timeout=%d memory=%d pids=%d scratch=%d %llums "
			"out=%llu processed=%llu limiter=%s", p->script_path, r->exit_status, r->signal,
			r->timed_out, r->memory_exceeded, r->pids_exceeded, r->scratch_exceeded,
			(unsigned long long)r->duration_ms, (unsigned long long)r->bytes_out,
			(unsigned long long)r->processed_bytes, cp_sandbox_limiter_name(r->limiter));
	}

	fds_reset(run, true);
	if (run->mounted)
		umount2(p->staging_dir, MNT_DETACH); /* and everything below */
	cp_cgroup_remove(&run->cg);
	return rc;
}

static void *
run_thread(void *arg)
{
	struct run *run = arg;
	run->rc = run_sandbox(run);
	return NULL;
}

const char *
cp_sandbox_limiter_name(enum cp_sandbox_limiter l)
{
	switch (l) {
	case CP_SANDBOX_CGROUP_V1:
		return "cgroup-v1";
	case CP_SANDBOX_CGROUP_V2:
		return "cgroup-v2";
	default:
		return "rlimit";
	}
}

int
cp_sandbox_run(const struct cp_sandbox_params *p, struct cp_sandbox_result *r)
{
	if (!r)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->exit_status = -1;
	if (!p || !p->script_path || !p->dataset_dir || !p->processed_dir || !p->log_path)
		return -EINVAL;
	struct run *run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->p = *p;
	run->r = r;
	struct cp_sandbox_params *q = &run->p;
#define DEFAULT(field, value) \
	do { \
		if (!q->field) \
			q->field = (value); \
	} while (0)
	DEFAULT(timeout_s, CP_SANDBOX_DEFAULT_TIMEOUT_S);
	DEFAULT(memory_max_bytes, CP_SANDBOX_DEFAULT_MEMORY);
	DEFAULT(scratch_max_bytes, CP_SANDBOX_DEFAULT_SCRATCH);
	DEFAULT(scratch_max_inodes, CP_SANDBOX_DEFAULT_SCRATCH_INODES);
	DEFAULT(tmp_max_bytes, CP_SANDBOX_DEFAULT_TMP);
	DEFAULT(log_max_bytes, CP_SANDBOX_DEFAULT_LOG);
	DEFAULT(max_procs, CP_SANDBOX_DEFAULT_PROCS);
	DEFAULT(max_files, CP_SANDBOX_DEFAULT_FILES);
	DEFAULT(kill_grace_ms, CP_SANDBOX_DEFAULT_GRACE_MS);
	DEFAULT(uid, CP_SANDBOX_DEFAULT_UID);
	DEFAULT(gid, CP_SANDBOX_DEFAULT_UID);
	DEFAULT(bwrap_path, CP_SANDBOX_DEFAULT_BWRAP);
	DEFAULT(staging_dir, CP_SANDBOX_DEFAULT_STAGING);
#undef DEFAULT
	fds_reset(run, false); /* calloc's zeros would be descriptor 0 */
	run->pid = -1;

	/* the run's own thread: its mount namespace dies with it (see the top of this file) */
	pthread_t t;
	int rc = pthread_create(&t, NULL, run_thread, run);
	if (rc == 0) {
		pthread_join(t, NULL);
		rc = run->rc;
	} else {
		rc = -rc;
	}
	free(run->buf);
	free(run);
	return rc;
}
