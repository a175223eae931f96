/* tide_counters.h — the one registry of names the drone, the Hive and every client share:
 * counters, drop reasons (each with a one-line hint a user can act on), stop reasons, and the
 * states of jobs and of their links.
 *
 * Why one registry: the same counters used to live in three vocabularies (written/dropped,
 * packets/drops, sums of both) and hints would otherwise be copied into the console, tidectl
 * and the Python client. Here each fact is written once, as X-macro lists that generate enums
 * and name tables (VPP's foreach_*_error style), and tide_counters_to_json() gives the whole
 * registry to the Hive, which serves it (GET /api/v1/meta/counters) so clients never copy it.
 *
 * Every list entry is _(SYM, "name", "description"). TIDE_DROP_NAMES and TIDE_STOP_NAMES give
 * the same lists as _(SYM, "name") for code written against the two-column lists that
 * dataplane/dp_capture.h had (DP_DROP_LIST, DP_STOP_LIST). */
#ifndef TIDE_COUNTERS_H
#define TIDE_COUNTERS_H

#include <stdbool.h>

#include <jansson.h>

/* Counters of a capture (one link of a job) as the drone reports them in status and ended, and
 * of a job (their sum). Accounting: received = matched + filtered, and
 * matched = written + drops, drops = the sum of drops_by_reason. */
#define TIDE_COUNTER_LIST(_)                                                                \
	_(PACKETS, "packets", "packets written to the dataset")                             \
	_(BYTES, "bytes", "bytes written to the dataset (shards)")                           \
	_(RECEIVED, "received", "packets the link delivered to the job")                     \
	_(RX_BYTES, "rx_bytes", "bytes the link delivered to the job")                       \
	_(MATCHED, "matched", "packets the job's filter selected")                           \
	_(FILTERED, "filtered", "packets the job's filter left out (not a loss)")            \
	_(UNSELECTED, "unselected", "packets of sessions the job's application selection "    \
		"left out (apps; counted in filtered, not a loss)")                             \
	_(DROPS, "drops", "packets selected but not written; see drops_by_reason")            \
	_(WRITTEN, "written", "packets written (the capture's own name for packets)")         \
	_(BYTES_WRITTEN, "bytes_written", "bytes written (the capture's own name for bytes)") \
	_(FILES, "files", "files the drone uploaded")

/* Why a packet was lost, with what to do about it. nic_imissed and mbuf_alloc happen before
 * the filter (counted as matched and dropped: tide cannot know what the filter would have
 * said); the rest happen to packets a job selected. */
#define TIDE_DROP_TABLE_(X, _)                                                              \
	X(_, NIC_IMISSED, "nic_imissed", "the NIC had no free RX descriptor: more RX queues "  \
		"or descriptors, more workers, or fewer/cheaper jobs on the link")             \
	X(_, MBUF_ALLOC, "mbuf_alloc", "no packet buffer was free: a larger mempool "          \
		"(tuning mempool_size), or fewer jobs that anonymise (they copy packets)")     \
	X(_, RING_FULL, "ring_full", "the writer could not keep up with the link: "            \
		"fewer/cheaper jobs, more writer cores, a faster disk")                         \
	X(_, DISK_FULL, "disk_full", "the drone's disk filled up: free space on the drone, "   \
		"or a smaller max_size")                                                        \
	X(_, MAX_SIZE, "max_size", "packets that arrived after the job reached its max_size: " \
		"a larger max_size or a narrower filter")                                       \
	X(_, IO_ERROR, "io_error", "writing a shard failed: see the drone's log and check "    \
		"its disk")

/* Why a capture ended (the words the drone reports as its reason). */
#define TIDE_STOP_TABLE_(X, _)                                                              \
	X(_, NONE, "running", "the capture has not ended")                                    \
	X(_, END_OF_INPUT, "end of input", "the input (a file, a replay) ended")              \
	X(_, MAX_SIZE, "max size reached", "the job's max_size was reached")                  \
	X(_, MAX_DURATION, "max duration reached", "the job's max_duration passed")           \
	X(_, COUNT, "count reached", "the job's max_packets were written")                    \
	X(_, DISK_FULL, "disk full", "the drone's disk filled up")                            \
	X(_, IO_ERROR, "i/o error", "writing a shard failed")                                 \
	X(_, SIGNAL, "signal", "the capture was stopped (stop, cancel, or the drone's end)")  \
	X(_, INPUT_ERROR, "input error", "the link or input failed")

#define TIDE_COL3_(_, sym, name, desc) _(sym, name, desc)
#define TIDE_COL2_(_, sym, name, desc) _(sym, name)
#define TIDE_DROP_LIST(_) TIDE_DROP_TABLE_(TIDE_COL3_, _)
#define TIDE_DROP_NAMES(_) TIDE_DROP_TABLE_(TIDE_COL2_, _)
#define TIDE_STOP_LIST(_) TIDE_STOP_TABLE_(TIDE_COL3_, _)
#define TIDE_STOP_NAMES(_) TIDE_STOP_TABLE_(TIDE_COL2_, _)

/* A job's states (the jobs table's CHECK in control/hive/cp_schema.c allows exactly these). */
#define TIDE_JOB_STATE_LIST(_)                                                              \
	_(PENDING, "pending", "waiting for its links (see pending_reason)")                   \
	_(RUNNING, "running", "capturing")                                                    \
	_(FINISHING, "finishing", "stopped; its drones are closing and uploading files")      \
	_(PROCESSING, "processing", "its post-processing script runs")                        \
	_(DONE, "done", "every link captured and ended")                                      \
	_(PARTIAL, "partial", "some links failed (reason per link); the dataset holds what "  \
		"the others captured")                                                        \
	_(FAILED, "failed", "no link captured, or its script failed: see reason")             \
	_(CANCELLED, "cancelled", "cancelled by a user")

/* The states a job ends in: it changes no more and its dataset is as complete as it gets.
 * The SQL list is for queries; tide_job_state_ended() for code. */
#define TIDE_JOB_ENDED_SQL "('done', 'partial', 'failed', 'cancelled')"

/* The states of one link of a job (one capture on one drone's link). */
#define TIDE_LINK_STATE_LIST(_)                                                             \
	_(PENDING, "pending", "waiting for a free job slot on the link or for its drone")     \
	_(RUNNING, "running", "capturing")                                                    \
	_(FINISHING, "finishing", "stopping, closing and uploading its files")                \
	_(DONE, "done", "ended and uploaded")                                                 \
	_(FAILED, "failed", "failed: see its reason")                                         \
	_(CANCELLED, "cancelled", "cancelled")

enum tide_counter {
#define _(sym, name, desc) TIDE_COUNTER_##sym,
	TIDE_COUNTER_LIST(_)
#undef _
	TIDE_COUNTER_MAX
};
enum tide_drop {
#define _(sym, name, desc) TIDE_DROP_##sym,
	TIDE_DROP_LIST(_)
#undef _
	TIDE_DROP_MAX
};
enum tide_stop {
#define _(sym, name, desc) TIDE_STOP_##sym,
	TIDE_STOP_LIST(_)
#undef _
	TIDE_STOP_MAX
};
enum tide_job_state {
#define _(sym, name, desc) TIDE_JOB_STATE_##sym,
	TIDE_JOB_STATE_LIST(_)
#undef _
	TIDE_JOB_STATES
};
enum tide_link_state {
#define _(sym, name, desc) TIDE_LINK_STATE_##sym,
	TIDE_LINK_STATE_LIST(_)
#undef _
	TIDE_LINK_STATES
};

extern const char *const tide_counter_names[TIDE_COUNTER_MAX];
extern const char *const tide_drop_names[TIDE_DROP_MAX];
extern const char *const tide_drop_hints[TIDE_DROP_MAX];
extern const char *const tide_stop_names[TIDE_STOP_MAX];
extern const char *const tide_job_state_names[TIDE_JOB_STATES + 1];  /* NULL-terminated */
extern const char *const tide_link_state_names[TIDE_LINK_STATES + 1]; /* NULL-terminated */

/* Is this a state a job ends in (TIDE_JOB_ENDED_SQL)? */
bool tide_job_state_ended(const char *state);

/* Index of name in a NULL-terminated or n-long table, or -1. */
int tide_name_index(const char *const *names, int n, const char *name);

/* The hint for a drop reason's name, NULL for a name not in the registry. */
const char *tide_drop_hint(const char *name);

/* The whole registry: {"counters":[{name, description}], "drop_reasons":[{name, hint}],
 * "stop_reasons":[…], "job_states":[…], "link_states":[…]}. New reference, NULL without
 * memory. */
json_t *tide_counters_to_json(void);

#endif
