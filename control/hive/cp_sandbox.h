/* cp_sandbox.h — runs a job's post-processing script over its dataset, isolated (TCI's
 * "post-processing in isolation", without Docker).
 *
 * cp_sandbox_run() blocks until the script has ended or been stopped, then copies what it wrote
 * into processed_dir. The jobs code calls it in the "processing" state; it needs root
 * (CAP_SYS_ADMIN for the scratch mount, CAP_SETUID to drop to the sandbox uid, cgroupfs access).
 *
 * What the script sees (bubblewrap, run as the unprivileged host uid/gid params.uid/gid):
 *   /usr (read-only), /bin /sbin /lib* as on the host (symlinks into /usr, or read-only binds)
 *   /etc: only ld.so.cache/conf, alternatives, ssl/certs, localtime, nsswitch.conf, protocols,
 *         services, mime.types, magic, wireshark — read-only; /etc/passwd, /etc/group and
 *         /etc/hosts are generated (root and nobody, localhost). Never shadow, never ssl/private.
 *   /job            this job's dataset only, read-only (staged for bwrap in a mount namespace
 *                   private to the run, so the data directory above it, the database and the
 *                   control socket are never named)
 *   /job/processed  the scratch: a tmpfs of scratch_max_bytes (and scratch_max_inodes), writable
 *   /tmp, /dev/shm  tmpfs of tmp_max_bytes each;  / and /dev read-only;  own /proc;  no /sys
 *   /opt/tide       params.tools_dir read-only when given (the hook for tide's flow tools);
 *                   /opt/tide/bin and /opt/tide come first on PATH
 *   environment     PATH, HOME=/tmp, TMPDIR=/tmp, LANG=C.UTF-8, TIDE_DATASET=/job,
 *                   TIDE_PROCESSED=/job/processed and nothing else; cwd /job; uid/gid 65534
 * The script runs as /bin/sh SCRIPT, or directly when it starts with "#!" (the interpreter must
 * be inside). stdin is /dev/null; stdout and stderr go to log_path, capped at log_max_bytes and
 * then cut with a marker (the rest is read and counted in bytes_out, not kept), followed by a
 * few "[tide-sandbox] ..." lines that say how the run ended.
 *
 * Isolation: every namespace unshared (user, mount, pid, net, ipc, uts, cgroup): the network
 * namespace holds only lo, so there is no route to the host or anywhere; --new-session (no
 * TIOCSTI into a terminal), --die-with-parent, all capabilities dropped, no_new_privs, nested
 * user namespaces disabled, and a seccomp filter that makes these fail with EPERM:
 *   ptrace, process_vm_readv/writev           reading or steering other processes
 *   mount, umount2, pivot_root, chroot, open_tree, move_mount, fsopen, fsconfig, fsmount,
 *   fspick, mount_setattr                      rearranging the file system view
 *   unshare, setns, clone with any CLONE_NEW* flag
 *                                              new or other namespaces (clone3 fails with ENOSYS,
 *                                              since its flags cannot be inspected; libc falls back)
 *   keyctl, add_key, request_key               the kernel keyring (not namespaced)
 *   bpf, perf_event_open, userfaultfd, io_uring_setup/enter/register
 *                                              large kernel attack surface no script needs
 *                                              (io_uring would also bypass the socket rules)
 *   kexec_load, kexec_file_load, init_module, finit_module, delete_module, reboot, swapon,
 *   swapoff, acct, quotactl, quotactl_fd, iopl, ioperm, syslog, vhangup, uselib,
 *   lookup_dcookie, open_by_handle_at, name_to_handle_at, settimeofday, clock_settime,
 *   clock_adjtime, adjtimex                    host administration
 *   socket(AF_NETLINK), socket(AF_PACKET), socket(*, SOCK_RAW)
 *                                              link/route configuration and raw frames
 * Everything else is allowed, deliberately: the tools scripts use (sh, python3, tshark,
 * capinfos, tcpdump -r) need the ordinary POSIX surface, and an allow-list would break with every
 * tool update. What the rest could reach is already confined by the namespaces (nothing but this
 * dataset is mounted, no network device but lo, no other processes visible), by running as an
 * unprivileged host uid without capabilities, and by the limits below. Syscalls of another ABI
 * (i386 int 0x80, x32) kill the process.
 *
 * Limits:
 *   wall clock   timeout_s, then SIGTERM to every process of the sandbox and, kill_grace_ms
 *                later, SIGKILL to its pid-1 (which takes the whole pid namespace) and to bwrap
 *   memory       a cgroup per run, preferred: v2 memory.max (+ memory.swap.max 0, pids.max)
 *                under cgroup_parent or tide-control's own cgroup, else v1 memory + pids
 *                controllers (hybrid hosts); else RLIMIT_AS per process. The result says which.
 *                Under cgroups tmpfs pages the script writes (scratch, /tmp) count towards the
 *                memory limit (size memory_max_bytes for scratch + working set); under RLIMIT_AS
 *                only address space does, and memory_exceeded cannot be detected (allocations
 *                fail with ENOMEM instead of an OOM kill).
 *   processes    pids.max max_procs per run where the cgroup has the pids controller, with
 *                RLIMIT_NPROC 2 x max_procs as backstop; else RLIMIT_NPROC max_procs (counted
 *                per host uid: concurrent runs as one uid share it)
 *   scratch      the tmpfs size and inode caps, mounted in the run's private mount namespace
 *                (nothing appears on the host, nothing outlives the run), and RLIMIT_FSIZE
 *                scratch_max_bytes per file as a second line; content is copied to processed_dir
 *                after every sandbox process has ended: regular files (0644) and directories
 *                (0755) only, at most CP_SANDBOX_MAX_DEPTH deep; symlinks, fifos, sockets and
 *                devices are skipped and counted
 *   files        RLIMIT_NOFILE max_files; RLIMIT_CORE 0
 *
 * Requirements on the caller: dataset_dir holds a "processed" directory (the mount point; usually
 * processed_dir itself), processed_dir is an empty directory, and the dataset is readable by the
 * sandbox uid (files 0644, directories 0755; the data directory above stays 0700 and keeps other
 * host users out). Needs bubblewrap >= 0.8 (--size, --disable-userns; Debian 12 has 0.8.0),
 * unprivileged user namespaces (Debian's default) and staging_dir's parent (/run) to exist.
 * Not bounded under RLIMIT_AS: memory outside any address space (memfd and SysV shm pages,
 * pipe buffers) beyond RLIMIT_FSIZE x RLIMIT_NOFILE; the cgroup modes bound it too.
 */
#ifndef CP_SANDBOX_H
#define CP_SANDBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Defaults used when a params field is 0. */
#define CP_SANDBOX_DEFAULT_TIMEOUT_S 300
#define CP_SANDBOX_DEFAULT_MEMORY (512ull << 20)
#define CP_SANDBOX_DEFAULT_SCRATCH (256ull << 20)
#define CP_SANDBOX_DEFAULT_SCRATCH_INODES 65536
#define CP_SANDBOX_DEFAULT_TMP (64ull << 20)
#define CP_SANDBOX_DEFAULT_LOG (1ull << 20)
#define CP_SANDBOX_DEFAULT_PROCS 128
#define CP_SANDBOX_DEFAULT_FILES 256
#define CP_SANDBOX_DEFAULT_GRACE_MS 2000
#define CP_SANDBOX_DEFAULT_UID 65534 /* nobody; uid 0 is never used */
#define CP_SANDBOX_DEFAULT_BWRAP "/usr/bin/bwrap"
#define CP_SANDBOX_DEFAULT_STAGING "/run/tide-sandbox"
#define CP_SANDBOX_SCRIPT_MAX (1u << 20) /* larger scripts are refused (-EFBIG) */
#define CP_SANDBOX_MAX_DEPTH 32          /* directory depth copied out of the scratch */

struct cp_sandbox_params {
	const char *script_path;
	const char *dataset_dir;   /* mounted read-only at /job */
	const char *processed_dir; /* empty; receives the scratch's content after the run */
	const char *log_path;      /* created or truncated: the script's stdout + stderr */
	uint64_t scratch_max_bytes;
	uint32_t timeout_s;
	uint64_t memory_max_bytes;

	/* Optional; 0 / NULL = the default above. */
	const char *tools_dir;     /* read-only at /opt/tide */
	const char *bwrap_path;
	const char *staging_dir;   /* created if missing, stays empty on the host; each run mounts
	                            * its staging tmpfs there in a mount namespace of its own */
	const char *cgroup_parent; /* cgroup v2 directory to create run cgroups in (a delegated one) */
	bool force_rlimit;         /* do not use cgroups even when available */
	uid_t uid;                 /* host uid/gid the sandbox runs as */
	gid_t gid;
	uint32_t scratch_max_inodes;
	uint64_t tmp_max_bytes;    /* each of /tmp and /dev/shm */
	uint64_t log_max_bytes;
	uint32_t max_procs;
	uint32_t max_files;
	uint32_t kill_grace_ms;
	atomic_bool *cancel;       /* set by another thread to stop the script like a timeout
	                            * (checked every 200 ms); NULL = cannot be cancelled */
};

/* How memory (and process count) was limited. */
enum cp_sandbox_limiter {
	CP_SANDBOX_RLIMIT = 0,
	CP_SANDBOX_CGROUP_V1,
	CP_SANDBOX_CGROUP_V2,
};

struct cp_sandbox_result {
	int exit_status;   /* 0-255 as the script's shell reports it (128+N: killed by signal N);
	                    * -1 when it was stopped before it ended */
	int signal;        /* the signal that ended the script, 0 if none */
	bool timed_out;
	bool cancelled;    /* stopped because *cancel was set */
	bool memory_exceeded; /* a process was OOM-killed at the memory limit (cgroups only) */
	bool pids_exceeded;   /* a fork was refused at pids.max (cgroups only) */
	bool scratch_exceeded; /* the scratch was full when the script ended, or a write passed
	                        * RLIMIT_FSIZE (SIGXFSZ) */
	bool log_truncated;
	enum cp_sandbox_limiter limiter;
	uint64_t duration_ms;
	uint64_t bytes_out;       /* stdout + stderr bytes the script wrote, kept or not */
	uint64_t processed_bytes; /* copied into processed_dir */
	uint32_t processed_files;
	uint32_t processed_skipped;
};

/* Runs the script; blocks for at most timeout_s + kill_grace_ms + the copy-out.
 * Returns 0 when the script ran (whatever its outcome; see r) and its output was collected, or
 * -errno with r filled as far as known:
 *   -EINVAL     a required field is missing
 *   -ENOENT     script, dataset, processed_dir, dataset/processed or bwrap missing
 *   -ENOTDIR    a directory argument is not one
 *   -ENOTEMPTY  processed_dir is not empty
 *   -EFBIG      the script is larger than CP_SANDBOX_SCRIPT_MAX
 *   -EPERM      not privileged enough (see above)
 *   -EIO        bubblewrap could not set the sandbox up; its message is in the log
 *   other       from the system call that failed (e.g. -ENOSPC copying out) */
int cp_sandbox_run(const struct cp_sandbox_params *p, struct cp_sandbox_result *r);

/* "rlimit", "cgroup-v1", "cgroup-v2". */
const char *cp_sandbox_limiter_name(enum cp_sandbox_limiter l);

#endif
