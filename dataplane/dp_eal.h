/* dp_eal.h — starts DPDK's EAL with sane defaults, so tide-dataplane runs with no EAL
 * arguments at all.
 *
 * Defaults (each applied only when the operator gave no EAL argument of that kind):
 *   - real hugepages when a hugetlbfs is mounted and has free pages (unlinked after mapping,
 *     so a killed process gives them back); otherwise --no-huge with 1 GiB of ordinary memory
 *   - --no-pci unless -a/--allow, -b/--block or a PCI option was given (probing every NIC on
 *     the host is never what a capture appliance wants by accident)
 *   - a per-process --file-prefix (tide-<pid>) so several drones and tests coexist; the
 *     telemetry socket is then /var/run/dpdk/tide-<pid>/dpdk_telemetry.v2
 *   - --no-shconf: no secondary processes attach to tide
 *   - log level warning for EAL chatter */
#ifndef DP_EAL_H
#define DP_EAL_H

/* argv is split at the first "--": EAL arguments before, tide's after. If there is no "--",
 * every argument is tide's. Extra EAL arguments tide needs (e.g. the demo vdev) go in `extra`
 * (NULL-terminated, may be NULL). On success returns the index in argv of tide's first
 * argument minus one (so argv + ret is a program-name-led vector) and fills *used_huge.
 * Returns -1 with the cause in err if the EAL failed. */
int dp_eal_start(int argc, char **argv, const char *const *extra, int *used_huge, char *err,
	size_t err_size);

/* hugetlbfs mounted and at least 64 free 2 MiB pages (128 MiB): enough for tide's pools. */
int dp_eal_hugepages_usable(void);

/* 1 if the EAL runs with tide's own per-process prefix (tide-<pid>), not an operator's. */
int dp_eal_default_prefix(void);

/* rte_eal_cleanup(), and the runtime directory of tide's own per-process prefix removed (it
 * would otherwise pile up in /var/run/dpdk, one per run; an operator's --file-prefix is
 * theirs to keep). */
void dp_eal_stop(void);

/* Split only: the index of "--" in argv, or 0 if there is none. */
int dp_eal_split(int argc, char **argv);

#endif
