/* cp_job_contract.h — the job contract (dataplane/contract/) as the Hive stores it.
 *
 * A job's capture parameters (struct tide_job) are columns of the jobs table: one column list,
 * one reader and one binder, so the REST edge that stores a job, the job's JSON, the
 * scheduler's start message and the manifest cannot disagree on which column holds what. A
 * job's counters are the sum of its links' (the registry's counters and drops_by_reason): one
 * function sums them, for the live view and for the job's end alike. */
#ifndef CP_JOB_CONTRACT_H
#define CP_JOB_CONTRACT_H

#include <jansson.h>

#include <sqlite3.h>

#include "tide_job.h"

/* In this order; CP_JOB_PARAMS_N of them. */
#define CP_JOB_PARAMS_COLUMNS \
	"filter, snaplen, anonymise, classify, session_type, max_size, max_duration, max_packets," \
	" lookback_s, shard_size, shard_time, export, apps, apps_keep_undecided, apps_packets," \
	" apps_wait"
#define CP_JOB_PARAMS_N 16

/* Reads the CP_JOB_PARAMS_COLUMNS starting at column col of the current row. */
void cp_job_params_read(sqlite3_stmt *st, int col, struct tide_job *job);

/* Binds them to parameters first .. first + CP_JOB_PARAMS_N - 1 (copies the text). */
void cp_job_params_bind(sqlite3_stmt *st, int first, const struct tide_job *job);

/* Adds a link's counters (as its drone reported them) into sum: every counter of the
 * registry and drops_by_reason, reason by reason. sum must be an object. */
void cp_job_counters_add(json_t *sum, const json_t *link);

/* {every registry counter: 0, "drops_by_reason": {}}. New reference. */
json_t *cp_job_counters_zero(void);

#endif
