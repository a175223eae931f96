/* cp_api_jobs_view.c — a job as the API shows it (see cp_api_jobs.h): the jobs row, its capture
 * parameters as the job contract writes them (tide_job_to_json, so the job JSON, the start
 * message and the manifest use one vocabulary), its links, and counters summed over the links
 * (live while it runs) with the drops by reason. Kept apart from the routes in cp_api_jobs.c,
 * which only validate and change rows. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cp_api.h"
#include "cp_api_jobs.h"
#include "cp_db.h"
#include "cp_http.h"
#include "cp_job_contract.h"
#include "tide_log.h"
#include "cp_perm.h"

/* params: CP_JOB_PARAMS_COLUMNS from column 18 */
#define PARAMS_COL 18
static const char sql_job[] =
	"SELECT id, name, description, owner_id, owner, link, state, reason, created_at,"
	" started_at, ended_at, counters, has_script, script_timeout, group_id,"
	" (SELECT name FROM groups WHERE id = jobs.group_id), dataset_bytes, shared, "
	CP_JOB_PARAMS_COLUMNS ", pending_reason FROM jobs WHERE id = ?1";
#define PENDING_REASON_COL (PARAMS_COL + CP_JOB_PARAMS_N)
static const char sql_in_group[] =
	"SELECT 1 FROM user_groups WHERE user_id = ?1 AND group_id = ?2";
static const char sql_job_links[] =
	"SELECT drone, link, state, reason, counters FROM job_links WHERE job_id = ?1"
	" ORDER BY drone, link";

bool
cp_jobs_visible(const struct cp_req *r, int64_t owner_id, int64_t group_id)
{
	if ((r->who.perms & cp_perm_bit(CP_PERM_JOBS_READ_ALL)) || owner_id == r->who.user_id)
		return true;
	if (group_id <= 0)
		return false;
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_in_group);
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, r->who.user_id);
	sqlite3_bind_int64(st, 2, group_id);
	bool in = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return in;
}

/* The job's links with their state and counters, the counters summed, and progress. */
static void
add_links(struct cp_req *r, int64_t id, json_t *j)
{
	json_t *links = json_array(), *sum = cp_job_counters_zero();
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_job_links);
	if (st)
		sqlite3_bind_int64(st, 1, id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *c = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
		if (!json_is_object(c)) {
			json_decref(c);
			c = json_object();
		}
		cp_job_counters_add(sum, c);
		json_array_append_new(links, json_pack("{s:s, s:s, s:s, s:s, s:o}", "drone",
			sqlite3_column_text(st, 0), "link", sqlite3_column_text(st, 1), "state",
			sqlite3_column_text(st, 2), "reason", sqlite3_column_text(st, 3), "counters", c));
	}
	if (st)
		sqlite3_reset(st);
	const char *state = json_string_value(json_object_get(j, "state"));
	json_t *counters = json_object_get(j, "counters");
	/* while it runs the job's own counters are empty: show the links' live sum; an ended job
	 * keeps what the scheduler summed at its end, completed by the sum where it lacks a key
	 * (jobs ended by older versions) */
	if (state && (!strcmp(state, "pending") || !strcmp(state, "running") ||
		!strcmp(state, "finishing")))
		json_object_update(counters, sum);
	else
		json_object_update_missing(counters, sum);
	json_decref(sum);
	json_object_set_new(j, "links", links);
	/* "drone" and "link": the first link's, for clients written for one-link jobs (the row
	 * keeps no drone) */
	json_t *first = json_array_get(links, 0);
	if (first) {
		json_object_set(j, "drone", json_object_get(first, "drone"));
		json_object_set(j, "link", json_object_get(first, "link"));
	}
	/* elapsed is filled in by the caller, which has the start and end times */
	json_object_set_new(j, "progress", json_pack("{s:I, s:O, s:i, s:O}", "bytes",
		json_integer_value(json_object_get(counters, "bytes")), "max_size",
		json_object_get(j, "max_size"), "elapsed", 0, "max_duration",
		json_object_get(j, "max_duration")));
}

json_t *
cp_jobs_json(struct cp_req *r, int64_t id, struct cp_job_meta *meta, int *err)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_job);
	if (!st) {
		*err = -EIO;
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		*err = rc == SQLITE_DONE ? -ENOENT : cp_db_errno(rc);
		return NULL;
	}
	int64_t owner = sqlite3_column_int64(st, 3);
	int64_t group = sqlite3_column_int(st, 17) ? sqlite3_column_int64(st, 14) : 0;
	int64_t started_ms = sqlite3_column_int64(st, 9), ended_ms = sqlite3_column_int64(st, 10);
	if (!cp_jobs_visible(r, owner, group)) {
		sqlite3_reset(st);
		*err = -ENOENT;
		return NULL;
	}
#define TEXT(i) ((const char *)sqlite3_column_text(st, i))
	json_t *counters = json_loads(TEXT(11), 0, NULL);
	if (!json_is_object(counters)) {
		json_decref(counters);
		counters = json_object();
	}
	struct tide_job params;
	cp_job_params_read(st, PARAMS_COL, &params);
	json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o,"
		" s:b, s:I}",
		"id", (json_int_t)id, "name", TEXT(1), "description", TEXT(2),
		"owner_id", (json_int_t)owner, "owner", TEXT(4),
		"link", TEXT(5), "state", TEXT(6), "reason", TEXT(7),
		"created_at", cp_api_time(sqlite3_column_int64(st, 8)),
		"started_at", cp_api_time(started_ms), "ended_at", cp_api_time(ended_ms),
		"counters", counters, "has_script", sqlite3_column_int(st, 12),
		"script_timeout", (json_int_t)sqlite3_column_int64(st, 13));
	if (j) {
		json_t *p = tide_job_to_json(&params);
		json_object_update(j, p);
		json_decref(p);
		json_object_set_new(j, "group", sqlite3_column_type(st, 15) == SQLITE_NULL ?
			json_null() : json_string(TEXT(15)));
		json_object_set_new(j, "dataset_bytes", json_integer(sqlite3_column_int64(st, 16)));
		json_object_set_new(j, "shared", json_boolean(sqlite3_column_int(st, 17)));
		/* why a pending job waits, as the scheduler last saw it */
		if (!strcmp(TEXT(6), "pending"))
			json_object_set_new(j, "pending_reason", json_string(TEXT(PENDING_REASON_COL)));
	}
#undef TEXT
	if (meta) {
		meta->owner_id = owner;
		snprintf(meta->state, sizeof(meta->state), "%s", sqlite3_column_text(st, 6));
		meta->ended_at = ended_ms;
	}
	sqlite3_reset(st);
	if (j) {
		add_links(r, id, j);
		int64_t until = ended_ms ? ended_ms : tide_wall_ms();
		json_object_set_new(json_object_get(j, "progress"), "elapsed",
			json_integer(started_ms ? (until - started_ms) / 1000 : 0));
	}
	*err = j ? 0 : -ENOMEM;
	return j;
}

int
cp_jobs_load(struct cp_req *r, int64_t *id, struct cp_job_meta *meta, json_t **out)
{
	*id = cp_param_id(r, 0);
	if (*id < 0)
		return -1;
	int err;
	json_t *j = cp_jobs_json(r, *id, meta, &err);
	if (!j) {
		if (err == -ENOENT)
			cp_fail(r, 404, "not_found", "no such job");
		else
			cp_fail_errno(r, err, "reading the job");
		return -1;
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	return 0;
}
