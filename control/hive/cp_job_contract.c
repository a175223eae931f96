/* cp_job_contract.c — struct tide_job to and from the jobs table's columns, and counter sums (see
 * cp_job_contract.h). */
#include <stdio.h>
#include <string.h>

#include "cp_job_contract.h"
#include "tide_counters.h"

void
cp_job_params_read(sqlite3_stmt *st, int col, struct tide_job *job)
{
	tide_job_init(job);
	snprintf(job->filter, sizeof(job->filter), "%s",
		(const char *)sqlite3_column_text(st, col) ?: "");
	job->snaplen = (uint32_t)sqlite3_column_int64(st, col + 1);
	job->anonymise = sqlite3_column_int(st, col + 2) != 0;
	job->classify = sqlite3_column_int(st, col + 3) != 0;
	const char *session = (const char *)sqlite3_column_text(st, col + 4);
	for (int t = 0; session && t < TIDE_SESSION_MAX; t++)
		if (!strcmp(session, tide_session_type_name((enum tide_session_type)t)))
			job->session_type = (enum tide_session_type)t;
	job->max_size = sqlite3_column_int64(st, col + 5);
	job->max_duration = sqlite3_column_int64(st, col + 6);
	job->max_packets = sqlite3_column_int64(st, col + 7);
	job->lookback_s = (uint32_t)sqlite3_column_int64(st, col + 8);
	job->shard_size = sqlite3_column_int64(st, col + 9);
	job->shard_time = sqlite3_column_int64(st, col + 10);
	snprintf(job->export, sizeof(job->export), "%s",
		(const char *)sqlite3_column_text(st, col + 11) ?: "");
	/* stored canonical (tide_job_apps_parse) by the REST edge, so read back as it is */
	snprintf(job->apps, sizeof(job->apps), "%s",
		(const char *)sqlite3_column_text(st, col + 12) ?: "");
	job->apps_keep_undecided = sqlite3_column_int(st, col + 13) != 0;
	job->apps_packets = (uint32_t)sqlite3_column_int64(st, col + 14);
	job->apps_wait = (uint32_t)sqlite3_column_int64(st, col + 15);
}

void
cp_job_params_bind(sqlite3_stmt *st, int first, const struct tide_job *job)
{
	sqlite3_bind_text(st, first, job->filter, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, first + 1, job->snaplen);
	sqlite3_bind_int(st, first + 2, job->anonymise);
	sqlite3_bind_int(st, first + 3, job->classify);
	sqlite3_bind_text(st, first + 4, tide_session_type_name(job->session_type), -1,
		SQLITE_STATIC);
	sqlite3_bind_int64(st, first + 5, job->max_size);
	sqlite3_bind_int64(st, first + 6, job->max_duration);
	sqlite3_bind_int64(st, first + 7, job->max_packets);
	sqlite3_bind_int64(st, first + 8, job->lookback_s);
	sqlite3_bind_int64(st, first + 9, job->shard_size);
	sqlite3_bind_int64(st, first + 10, job->shard_time);
	sqlite3_bind_text(st, first + 11, job->export, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, first + 12, job->apps, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, first + 13, job->apps_keep_undecided);
	sqlite3_bind_int64(st, first + 14, job->apps_packets);
	sqlite3_bind_int64(st, first + 15, job->apps_wait);
}

json_t *
cp_job_counters_zero(void)
{
	json_t *c = json_object();
	for (int k = 0; k < TIDE_COUNTER_MAX; k++)
		json_object_set_new(c, tide_counter_names[k], json_integer(0));
	json_object_set_new(c, "drops_by_reason", json_object());
	return c;
}

void
cp_job_counters_add(json_t *sum, const json_t *link)
{
	for (int k = 0; k < TIDE_COUNTER_MAX; k++) {
		const char *name = tide_counter_names[k];
		json_int_t v = json_integer_value(json_object_get(link, name));
		json_object_set_new(sum, name, json_integer(json_integer_value(json_object_get(sum,
			name)) + v));
	}
	json_t *by = json_object_get(sum, "drops_by_reason");
	if (!json_is_object(by)) {
		by = json_object();
		json_object_set_new(sum, "drops_by_reason", by);
	}
	const char *reason;
	json_t *v;
	json_object_foreach(json_object_get(link, "drops_by_reason"), reason, v)
		if (json_is_integer(v))
			json_object_set_new(by, reason, json_integer(json_integer_value(
				json_object_get(by, reason)) + json_integer_value(v)));
}
