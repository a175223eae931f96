/* sandbox_driver.c — runs cp_sandbox_run() once from the command line, for test_sandbox.py.
 *
 * The test drives the real module the way the jobs code will: every params field has an option,
 * and the result is printed as one JSON object on stdout (rc is 0 or -errno). Exit status 0
 * whenever a result was printed, 2 on a usage error. Log lines of the module go to stderr. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide_log.h"
#include "cp_sandbox.h"

static unsigned long long
number(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "sandbox_driver: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "script", required_argument, NULL, 's' }, { "dataset", required_argument, NULL, 'd' },
		{ "processed", required_argument, NULL, 'p' }, { "log", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' }, { "memory", required_argument, NULL, 'm' },
		{ "scratch", required_argument, NULL, 'c' }, { "inodes", required_argument, NULL, 'i' },
		{ "tmp", required_argument, NULL, 'T' }, { "log-max", required_argument, NULL, 'L' },
		{ "procs", required_argument, NULL, 'P' }, { "files", required_argument, NULL, 'F' },
		{ "grace-ms", required_argument, NULL, 'g' }, { "tools", required_argument, NULL, 'o' },
		{ "bwrap", required_argument, NULL, 'b' }, { "uid", required_argument, NULL, 'u' },
		{ "rlimit", no_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	struct cp_sandbox_params p;
	memset(&p, 0, sizeof(p));
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': p.script_path = optarg; break;
		case 'd': p.dataset_dir = optarg; break;
		case 'p': p.processed_dir = optarg; break;
		case 'l': p.log_path = optarg; break;
		case 't': p.timeout_s = (uint32_t)number(optarg); break;
		case 'm': p.memory_max_bytes = number(optarg); break;
		case 'c': p.scratch_max_bytes = number(optarg); break;
		case 'i': p.scratch_max_inodes = (uint32_t)number(optarg); break;
		case 'T': p.tmp_max_bytes = number(optarg); break;
		case 'L': p.log_max_bytes = number(optarg); break;
		case 'P': p.max_procs = (uint32_t)number(optarg); break;
		case 'F': p.max_files = (uint32_t)number(optarg); break;
		case 'g': p.kill_grace_ms = (uint32_t)number(optarg); break;
		case 'o': p.tools_dir = optarg; break;
		case 'b': p.bwrap_path = optarg; break;
		case 'u': p.uid = (uid_t)number(optarg); p.gid = (gid_t)p.uid; break;
		case 'r': p.force_rlimit = true; break;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: sandbox_driver --script F --dataset D --processed D --log F "
			"[limits]\n");
		return 2;
	}
	tide_log_open(NULL, TIDE_LOG_DEBUG);

	struct cp_sandbox_result r;
	int rc = cp_sandbox_run(&p, &r);
	printf("{\"rc\": %d, \"exit_status\": %d, \"signal\": %d, \"timed_out\": %s, "
		"\"memory_exceeded\": %s, \"pids_exceeded\": %s, \"scratch_exceeded\": %s, "
		"\"log_truncated\": %s, \"limiter\": \"%s\", \"duration_ms\": %llu, "
		"\"bytes_out\": %llu, \"processed_bytes\": %llu, \"processed_files\": %u, "
		"\"processed_skipped\": %u}\n",
		rc, r.exit_status, r.signal, r.timed_out ? "true" : "false",
		r.memory_exceeded ? "true" : "false", r.pids_exceeded ? "true" : "false",
		r.scratch_exceeded ? "true" : "false", r.log_truncated ? "true" : "false",
		cp_sandbox_limiter_name(r.limiter), (unsigned long long)r.duration_ms,
		(unsigned long long)r.bytes_out, (unsigned long long)r.processed_bytes,
		r.processed_files, r.processed_skipped);
	tide_log_close();
	return 0;
}
