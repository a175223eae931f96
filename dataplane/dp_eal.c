/* dp_eal.c — EAL start-up with defaults (see dp_eal.h). */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "dp_eal.h"

int
dp_eal_split(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return 0;
}

static int
has_arg(int n, char **v, const char *const *names)
{
	for (int i = 0; i < n; i++)
		for (const char *const *p = names; *p; p++) {
			size_t l = strlen(*p);
			if (strncmp(v[i], *p, l) == 0 && (v[i][l] == '\0' || v[i][l] == '='))
				return 1;
		}
	return 0;
}

/* hugetlbfs mounted and at least 64 free 2 MiB pages (128 MiB): enough for tide's pools */
int
dp_eal_hugepages_usable(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	int mounted = 0;
	char line[512];
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " hugetlbfs "))
			mounted = 1;
	fclose(f);
	if (!mounted)
		return 0;
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	long free_pages = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &free_pages) == 1)
			break;
	fclose(f);
	return free_pages >= 64;
}

static int default_prefix;

int
dp_eal_default_prefix(void)
{
	return default_prefix;
}

int
dp_eal_start(int argc, char **argv, const char *const *extra, int *used_huge, char *err,
	size_t err_size)
{
	int split = dp_eal_split(argc, argv);
	int n_user = split ? split - 1 : 0;
	char **user = argv + 1;
	static char prefix[64];
	char *eal[256];
	int n = 0;

	static const char *const huge_opts[] = {"--no-huge", "--huge-dir", "-m", "--socket-mem",
		"--huge-unlink", "--in-memory", NULL};
	static const char *const pci_opts[] = {"-a", "--allow", "-b", "--block", "--no-pci",
		"--pci-whitelist", "--pci-blacklist", NULL};
	static const char *const prefix_opts[] = {"--file-prefix", "--in-memory", NULL};
	static const char *const shconf_opts[] = {"--no-shconf", "--in-memory", "--proc-type", NULL};
	static const char *const log_opts[] = {"--log-level", NULL};

	eal[n++] = argv[0];
	*used_huge = 0;
	if (!has_arg(n_user, user, huge_opts)) {
		if (dp_eal_hugepages_usable()) {
			*used_huge = 1;
			eal[n++] = "--huge-unlink";
		} else {
			eal[n++] = "--no-huge";
			eal[n++] = "-m";
			eal[n++] = "1024";
		}
	} else {
		*used_huge = !has_arg(n_user, user, (const char *const[]){"--no-huge", NULL});
	}
	if (!has_arg(n_user, user, pci_opts))
		eal[n++] = "--no-pci";
	if (!has_arg(n_user, user, prefix_opts)) {
		snprintf(prefix, sizeof(prefix), "--file-prefix=tide-%d", (int)getpid());
		eal[n++] = prefix;
		default_prefix = 1;
	}
	if (!has_arg(n_user, user, shconf_opts))
		eal[n++] = "--no-shconf";
	if (!has_arg(n_user, user, log_opts))
		eal[n++] = "--log-level=lib.eal:warning";
	for (int i = 0; i < n_user && n < 250; i++)
		eal[n++] = user[i];
	for (const char *const *e = extra; e && *e && n < 254; e++)
		eal[n++] = (char *)*e;
	eal[n] = NULL;

	int rc = rte_eal_init(n, eal);
	if (rc < 0) {
		snprintf(err, err_size, "cannot start DPDK EAL: %s", rte_strerror(rte_errno));
		return -1;
	}
	return split;
}

void
dp_eal_stop(void)
{
	char rundir[PATH_MAX];
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (!default_prefix)
		return;
	DIR *d = opendir(rundir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(rundir);
}
