/* dp_drone.h — drone mode: `tide-dataplane --hive wss://HOST:PORT --link NAME=SPEC ...`.
 *
 * The drone is TCI's capture agent. It dials the Hive (so probes behind NAT work), announces
 * its host (cores, NUMA nodes, hugepages) and links (each probed with `--probe`), and runs the
 * captures the Hive asks for: one child tide-dataplane per (job, link), with the job's filter,
 * limits and privacy options and the drone's tuning (lcores, queues, descriptors, burst,
 * mempool, writer CPUs, NUMA node, hugepages). When a capture ends, its completed files are
 * uploaded to the Hive over HTTPS (plain HTTP only to a Hive on this host), each with its
 * SHA-256 (the Hive recomputes and refuses a mismatch), and the Hive is told how it ended; the
 * spool copy is removed once the Hive
 * acknowledges. The agent itself never starts DPDK, so a capture that crashes does not take
 * the drone down, and the drone does not hold hugepages between jobs.
 *
 * Protocol (JSON text frames on /api/v1/drones/connect; docs/DRONES.md):
 *   drone → hive: hello, status (every second), ended, tuned
 *   hive → drone: welcome, start, stop, cancel, tune, ack, error */
#ifndef DP_DRONE_H
#define DP_DRONE_H

#include <stdbool.h>

/* Is this command line drone mode (--hive anywhere)? */
bool dp_drone_wanted(int argc, char **argv);
/* Runs the drone until SIGINT/SIGTERM. Exit status: 0, 1 runtime error, 2 usage. */
int dp_drone_main(int argc, char **argv);

#endif
