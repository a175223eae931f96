/* cp_api_jobs.c — capture jobs and their links: create (checked against the contract, the
 * drones' links and the group's quota), list, show, stop, cancel, delete (jobs.read,
 * jobs.write). A job's dataset is served by cp_api_datasets.c.
 *
 * Scoping: a job belongs to its owner and counts against one group of theirs (its quota). By
 * default only the owner sees it — datasets are private. Created with "group": G it is shared:
 * G's members see and manage it too (stop, cancel and delete also need jobs.write, as every
 * changing route). jobs.read_all sees and manages every job. A job outside
 * the caller's scope answers 404, exactly like one that does not exist, so ids reveal nothing.
 * Handlers only change rows: the scheduler (cp_scheduler.c) notices state changes and tells the
 * drones. A job runs on one or more links ("drone/link"), each a row of job_links.
 *
 * Quotas: a group with quota_bytes > 0 cannot hold more than that: a new job is refused (409
 * quota_exceeded) when its max_size, added to the group's datasets and to the max_size of its
 * jobs not yet ended, would pass the quota. Reserving max_size up front means a running job can
 * never push its group over. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>

#include "cp_api.h"
#include "cp_api_jobs.h"
#include "cp_audit.h"
#include "cp_dataset.h"
#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "cp_job_contract.h"
#include "tide_log.h"
#include "cp_options.h"
#include "cp_routes.h"
#include "tide_counters.h"

#define JOB_NAME_MAX 128
#define SCRIPT_MAX 65536                  /* bytes of a post-processing script */
#define SCRIPT_TIMEOUT_MAX 3600           /* seconds */
#define SCRIPT_TIMEOUT_DEFAULT 300
#define JOB_LINKS_MAX 64                  /* links of one job */

static const char sql_jobs_page[] =
	"SELECT id FROM jobs WHERE (?3 OR owner_id = ?4 OR (shared AND group_id IN"
	" (SELECT group_id FROM user_groups WHERE user_id = ?4)))"
	" AND (?5 = '' OR state = ?5) ORDER BY id DESC LIMIT ?1 OFFSET ?2";
static const char sql_job_insert[] =
	"INSERT INTO jobs (name, description, owner_id, owner, link, created_at, has_script,"
	" script_timeout, group_id, shared, " CP_JOB_PARAMS_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5,"
	" ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23,"
	" ?24, ?25, ?26)";
static const char sql_job_link_insert[] =
	"INSERT INTO job_links (job_id, drone, link) VALUES (?1, ?2, ?3)";
static const char sql_drone_links[] =
	"SELECT builtin, links FROM drones WHERE name = ?1";
static const char sql_group_by_name[] =
	"SELECT g.id, g.name, g.quota_bytes, EXISTS (SELECT 1 FROM user_groups u"
	" WHERE u.user_id = ?2 AND u.group_id = g.id) FROM groups g WHERE g.name = ?1";
static const char sql_default_group[] =
	"SELECT g.id, g.name, g.quota_bytes FROM groups g JOIN user_groups u ON u.group_id = g.id"
	" WHERE u.user_id = ?1 ORDER BY g.name = 'users' DESC, g.id LIMIT 1";
static const char sql_group_used[] =
	"SELECT COALESCE(SUM(CASE WHEN state IN ('pending', 'running', 'finishing')"
	" THEN max_size ELSE dataset_bytes END), 0) FROM jobs WHERE group_id = ?1";
static const char sql_job_stop[] =
	"UPDATE jobs SET state = 'finishing' WHERE id = ?1 AND state = 'running'";
static const char sql_job_cancel[] =
	"UPDATE jobs SET state = 'cancelled', reason = 'cancelled by ' || ?2,"
	" ended_at = CASE WHEN state = 'pending' THEN ?3 ELSE ended_at END"
	" WHERE id = ?1 AND state IN ('pending', 'running', 'finishing', 'processing')";
static const char sql_job_delete[] =
	"DELETE FROM jobs WHERE id = ?1 AND state IN " TIDE_JOB_ENDED_SQL;


/* ---- validation -------------------------------------------------------------------------- */

/* Printable text without control characters (names and descriptions end up in listings). */
static bool
plain_text(json_t *v, bool allow_newlines)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) != json_string_length(v))
		return false; /* embedded NUL */
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && !(allow_newlines && (*s == '\n' || *s == '\t')))
			return false;
	return true;
}

/* 0 when the filter compiles and every name of apps (a canonical list, "" for none) is an
 * application or service of the drone's classifier tables: both in one tide-dataplane
 * --check-filter, the drone's own words. Else answers, -1: a bad filter is 422 invalid_filter
 * with libpcap's message, an unknown name 400 invalid_field naming 'apps' (the dataplane's
 * message begins "--apps:"), and 5xx when the check could not run. */
static int
check_filter(struct cp_req *r, json_t *v, const char *apps)
{
	if (v && !plain_text(v, false))
		return cp_fail(r, 400, "invalid_field", "'filter' holds control characters"), -1;
	const char *filter = v ? json_string_value(v) : "";
	if (!filter[0] && !apps[0])
		return 0;
	char dataplane[PATH_MAX], msg[512];
	int rc = cp_drone_dataplane(r->srv->opt, dataplane, sizeof(dataplane));
	if (rc == 0)
		rc = cp_drone_check_filter(dataplane, filter, apps, msg, sizeof(msg));
	if (rc == 0)
		return 0;
	static const char apps_prefix[] = "--apps:";
	if (rc == -EINVAL && apps[0] && !strncmp(msg, apps_prefix, sizeof(apps_prefix) - 1))
		cp_fail(r, 400, "invalid_field", "'apps' %s",
			msg + sizeof(apps_prefix) - 1 + (msg[sizeof(apps_prefix) - 1] == ' '));
	else if (rc == -EINVAL)
		cp_fail(r, 422, "invalid_filter", "%s", msg[0] ? msg : "the filter does not compile");
	else if (rc == -ETIMEDOUT)
		cp_fail(r, 503, "filter_check_timeout", "%s took too long", apps[0] ?
			"checking the filter and the applications" : "compiling the filter");
	else
		cp_fail(r, 500, "filter_check_failed", "the filter%s could not be checked",
			apps[0] ? " and the applications" : "");
	return -1;
}

/* "apps" of a body (a JSON array of names) in the contract's canonical form, checked by the
 * contract's own reading of it (tide_job_from_json, the one grammar). 0, or -1 after
 * answering 400 with the contract's words. */
static int
canonical_apps(struct cp_req *r, json_t *v, char *out, size_t size)
{
	out[0] = '\0';
	if (!v)
		return 0;
	/* a minimal job around it: the list is checked exactly as in a job's body */
	json_t *probe = json_pack("{s:I, s:i, s:b, s:O}", "max_size",
		(json_int_t)TIDE_JOB_MAX_SIZE_MIN, "max_duration", 1, "classify", 1, "apps", v);
	struct tide_job job;
	struct tide_job_error err;
	int rc = probe ? tide_job_from_json(probe, &job, &err) : -ENOMEM;
	json_decref(probe);
	if (rc == -EINVAL)
		return cp_fail(r, 400, err.code, "'%s' %s", err.field, err.why), -1;
	if (rc)
		return cp_fail_errno(r, rc, "reading 'apps'"), -1;
	snprintf(out, size, "%s", job.apps);
	return 0;
}

static int
post_validate(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "filter", CP_FIELD_STRING, false, 0, TIDE_JOB_FILTER_MAX },
		{ "apps", CP_FIELD_ARRAY, false, 0, TIDE_JOB_APPS_NAMES_MAX },
	};
	char apps[TIDE_JOB_APPS_MAX + 1];
	if (cp_check_body(r, fields, sizeof(fields) / sizeof(fields[0])))
		return r->status;
	json_t *filter = json_object_get(r->body, "filter");
	if (!filter && !json_object_get(r->body, "apps"))
		return cp_fail(r, 400, "missing_field", "'filter' or 'apps' is required");
	if (canonical_apps(r, json_object_get(r->body, "apps"), apps, sizeof(apps)) ||
		check_filter(r, filter, apps))
		return r->status;
	return cp_reply(r, 200, json_pack("{s:b}", "valid", 1));
}

/* ---- jobs -------------------------------------------------------------------------------- */

/* DATA_DIR/jobs/<id>.sh, 0600: outside the dataset, so never served. path receives it. */
static int
write_script(const char *data_dir, int64_t id, json_t *script, char *path, size_t size)
{
	char jobs[PATH_MAX];
	if ((size_t)snprintf(jobs, sizeof(jobs), "%s/jobs", data_dir) >= sizeof(jobs) ||
		cp_drone_job_path(data_dir, id, ".sh", path, size))
		return -ENAMETOOLONG;
	if (mkdir(jobs, 0700) != 0 && errno != EEXIST)
		return -errno;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	size_t len = json_string_length(script);
	int rc = write(fd, json_string_value(script), len) == (ssize_t)len && fsync(fd) == 0 ?
		0 : -EIO;
	close(fd);
	if (rc)
		unlink(path);
	return rc;
}

struct job_link {
	char drone[CP_DRONE_NAME_MAX + 1];
	char link[64];
};

/* Is link one of the drone's? The links its drone last reported; for the local drone also the
 * configured ones (it may not have dialled in yet right after a start). */
static bool
drone_has_link(struct cp_req *r, const char *drone, const char *link, bool *known_drone)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_drone_links);
	bool found = false, builtin = false;
	*known_drone = false;
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, drone, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*known_drone = true;
		builtin = sqlite3_column_int(st, 0) != 0;
		json_t *links = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
		size_t i;
		json_t *l;
		json_array_foreach(links, i, l)
			if (!strcmp(json_string_value(json_object_get(l, "name")) ?: "", link))
				found = true;
		json_decref(links);
	}
	sqlite3_reset(st);
	if (!found && builtin) {
		const char *p = r->srv->opt->local_links;
		size_t len = strlen(link);
		while (p && *p) {
			while (*p == ';' || *p == ' ')
				p++;
			if (!strncmp(p, link, len) && p[len] == '=')
				found = true;
			p = strchr(p, ';');
		}
	}
	return found;
}

/* "links": ["drone/link", ...] (or the older "link": "name" on the local drone) into out.
 * The count, or -1 after answering. */
static int
parse_links(struct cp_req *r, json_t *arr, const char *link, struct job_link *out)
{
	int n = 0;
	if (arr && link)
		return cp_fail(r, 400, "invalid_field", "give 'links' or 'link', not both"), -1;
	if (!arr) {
		snprintf(out[0].drone, sizeof(out[0].drone), "%s", CP_DRONE_LOCAL_NAME);
		snprintf(out[0].link, sizeof(out[0].link), "%s", link ? link : CP_DRONE_LOCAL_LINK);
		n = 1;
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v) {
			const char *s = json_string_value(v);
			const char *slash = s ? strchr(s, '/') : NULL;
			if (!slash || slash == s || !slash[1] || strlen(slash + 1) >= sizeof(out[0].link) ||
				(size_t)(slash - s) > CP_DRONE_NAME_MAX)
				return cp_fail(r, 400, "invalid_field",
					"'links' holds \"drone/link\" strings"), -1;
			snprintf(out[n].drone, sizeof(out[n].drone), "%.*s", (int)(slash - s), s);
			snprintf(out[n].link, sizeof(out[n].link), "%s", slash + 1);
			for (int k = 0; k < n; k++)
				if (!strcasecmp(out[k].drone, out[n].drone) && !strcmp(out[k].link,
					out[n].link))
					return cp_fail(r, 400, "invalid_field", "link %s is given twice", s),
						-1;
			n++;
		}
	}
	for (int i = 0; i < n; i++) {
		bool known;
		if (!drone_has_link(r, out[i].drone, out[i].link, &known))
			return cp_fail(r, 422, "unknown_link", known ?
				"drone %s has no link '%s' (GET /api/v1/links)" :
				"no drone '%s' (link '%s'; GET /api/v1/drones)", out[i].drone,
				out[i].link), -1;
	}
	return n;
}

struct job_group {
	int64_t id;
	char name[65];
	int64_t quota;
};

/* The group the job is shared with: the one named (the caller's own, or any for jobs.read_all),
 * else the caller's 'users' group, else their first. 0, or -1 after answering. */
static int
pick_group(struct cp_req *r, const char *name, struct job_group *g)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, name ? sql_group_by_name : sql_default_group);
	if (!st)
		return cp_fail_errno(r, -EIO, "reading groups"), -1;
	if (name) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, r->who.user_id);
	} else {
		sqlite3_bind_int64(st, 1, r->who.user_id);
	}
	int rc = sqlite3_step(st);
	bool member = rc == SQLITE_ROW && (!name || sqlite3_column_int(st, 3) ||
		(r->who.perms & cp_perm_bit(CP_PERM_JOBS_READ_ALL)));
	if (rc == SQLITE_ROW) {
		g->id = sqlite3_column_int64(st, 0);
		snprintf(g->name, sizeof(g->name), "%s", sqlite3_column_text(st, 1));
		g->quota = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW && member)
		return 0;
	if (name)
		return cp_fail(r, 422, "unknown_group", "'%s' is not one of your groups", name), -1;
	return cp_fail(r, 403, "forbidden", "you belong to no group to share the job with"), -1;
}

/* Bytes the group holds or has reserved (datasets of ended jobs, max_size of others). */
static int64_t
group_used(struct cp_req *r, int64_t group)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_group_used);
	int64_t used = -1;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	if (sqlite3_step(st) == SQLITE_ROW)
		used = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return used;
}

/* A job's body passes two checks: the Hive's own members against fields (cp_json_check), and
 * the capture parameters against the job contract (tide_job_from_json, the check a drone
 * makes too), each refusal naming the field. 0 with *job filled in, or -1 after answering. */
static int
check_job_body(struct cp_req *r, const struct cp_field *fields, size_t n_fields,
	struct tide_job *job)
{
	if (!json_is_object(r->body))
		return cp_fail(r, 400, "invalid_body", "the request body must be a JSON object"), -1;
	json_t *hive = json_object(), *params = json_object();
	const char *key;
	json_t *v;
	json_object_foreach(r->body, key, v)
		json_object_set(tide_job_is_field(key) ? params : hive, key, v);
	const char *code = "invalid_body";
	char msg[256];
	struct tide_job_error err;
	int rc = 0;
	if (cp_json_check(hive, fields, n_fields, &code, msg, sizeof(msg)) != 0)
		rc = cp_fail(r, 400, code, "%s", msg);
	else if (tide_job_from_json(params, job, &err) != 0)
		rc = cp_fail(r, 400, err.code, "'%s' %s", err.field, err.why);
	json_decref(hive);
	json_decref(params);
	return rc ? -1 : 0;
}

static int
post_job(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "name", CP_FIELD_STRING, true, 1, JOB_NAME_MAX },
		{ "description", CP_FIELD_STRING, false, 0, CP_DESCRIPTION_MAX },
		{ "link", CP_FIELD_STRING, false, 1, 64 },
		{ "links", CP_FIELD_ARRAY, false, 1, JOB_LINKS_MAX },
		{ "group", CP_FIELD_STRING, false, 1, 64 },
		{ "script", CP_FIELD_STRING, false, 1, SCRIPT_MAX },
		{ "script_timeout", CP_FIELD_INT, false, 1, SCRIPT_TIMEOUT_MAX },
	};
	struct tide_job params;
	if (check_job_body(r, fields, sizeof(fields) / sizeof(fields[0]), &params))
		return r->status;
	json_t *b = r->body;
	json_t *desc = json_object_get(b, "description");
	const char *link = json_string_value(json_object_get(b, "link"));
	json_t *script = json_object_get(b, "script"), *timeout = json_object_get(b, "script_timeout");
	if (!plain_text(json_object_get(b, "name"), false))
		return cp_fail(r, 400, "invalid_field", "'name' holds control characters");
	if (desc && !plain_text(desc, true))
		return cp_fail(r, 400, "invalid_field", "'description' holds control characters");
	struct job_link links[JOB_LINKS_MAX];
	int n_links = parse_links(r, json_object_get(b, "links"), link, links);
	if (n_links < 0)
		return r->status;
	struct job_group grp;
	if (pick_group(r, json_string_value(json_object_get(b, "group")), &grp))
		return r->status;
	if (check_filter(r, json_object_get(b, "filter"), params.apps))
		return r->status;

	int rc = cp_db_begin(r->db);
	if (rc == 0 && grp.quota > 0) {
		int64_t used = group_used(r, grp.id);
		int64_t want = params.max_size;
		if (used >= 0 && used + want > grp.quota) {
			cp_db_rollback(r->db);
			return cp_fail(r, 409, "quota_exceeded", "group %s: %lld of its %lld bytes are "
				"used or reserved; this job may need %lld more", grp.name, (long long)used,
				(long long)grp.quota, (long long)want);
		}
	}
	if (rc)
		return cp_fail_errno(r, rc, "creating the job");
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_job_insert);
	rc = st ? 0 : -EIO;
	if (st) {
		sqlite3_bind_text(st, 1, json_string_value(json_object_get(b, "name")), -1,
			SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, desc ? json_string_value(desc) : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, r->who.user_id);
		sqlite3_bind_text(st, 4, r->who.username, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, links[0].link, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 6, tide_wall_ms());
		sqlite3_bind_int(st, 7, script != NULL);
		sqlite3_bind_int64(st, 8, timeout ? json_integer_value(timeout) :
			SCRIPT_TIMEOUT_DEFAULT);
		sqlite3_bind_int64(st, 9, grp.id);
		sqlite3_bind_int(st, 10, json_object_get(b, "group") != NULL);
		cp_job_params_bind(st, 11, &params);
		int s = sqlite3_step(st);
		sqlite3_reset(st);
		rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
	}
	int64_t id = rc ? 0 : cp_db_last_id(r->db);
	json_t *link_names = json_array();
	for (int i = 0; rc == 0 && i < n_links; i++) {
		sqlite3_stmt *ls = cp_db_stmt(r->db, sql_job_link_insert);
		if (!ls) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_int64(ls, 1, id);
		sqlite3_bind_text(ls, 2, links[i].drone, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ls, 3, links[i].link, -1, SQLITE_TRANSIENT);
		int s = sqlite3_step(ls);
		sqlite3_reset(ls);
		rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
		char both[CP_DRONE_NAME_MAX + 66];
		snprintf(both, sizeof(both), "%.31s/%.63s", links[i].drone, links[i].link);
		json_array_append_new(link_names, json_string(both));
	}
	char target[32], script_path[PATH_MAX] = "";
	snprintf(target, sizeof(target), "job:%lld", (long long)id);
	/* written before the commit: the drone cannot see the job before its script exists */
	if (rc == 0 && script)
		rc = write_script(r->srv->opt->data_dir, id, script, script_path,
			sizeof(script_path));
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_JOB_CREATE, target, json_pack("{s:O, s:O, s:s, s:b}",
			"name", json_object_get(b, "name"), "links", link_names, "group", grp.name,
			"script", script != NULL));
	json_decref(link_names);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc && script_path[0])
		unlink(script_path);
	if (rc)
		return cp_fail_errno(r, rc, "creating the job");
	int err;
	json_t *j = cp_jobs_json(r, id, NULL, &err);
	return j ? cp_reply(r, 201, j) : cp_fail_errno(r, err, "reading the job");
}

static int
get_jobs(struct cp_req *r)
{
	static const char *const params[] = { "limit", "offset", "state", NULL };
	int64_t limit, offset, ids[CP_LIST_MAX];
	int state;
	if (cp_api_check_query(r, params) ||
		cp_query_int(r, "limit", 1, CP_LIST_MAX, 100, &limit) ||
		cp_query_int(r, "offset", 0, INT32_MAX, 0, &offset) ||
		cp_api_query_enum(r, "state", tide_job_state_names, &state))
		return r->status;
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_jobs_page);
	if (!st)
		return cp_fail_errno(r, -EIO, "listing jobs");
	sqlite3_bind_int64(st, 1, limit);
	sqlite3_bind_int64(st, 2, offset);
	sqlite3_bind_int(st, 3, (r->who.perms & cp_perm_bit(CP_PERM_JOBS_READ_ALL)) != 0);
	sqlite3_bind_int64(st, 4, r->who.user_id);
	sqlite3_bind_text(st, 5, state < 0 ? "" : tide_job_state_names[state], -1, SQLITE_STATIC);
	int n = 0, rc = SQLITE_DONE;
	while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cp_fail_errno(r, cp_db_errno(rc), "listing jobs");
	json_t *items = json_array();
	for (int i = 0; i < n; i++) {
		int err;
		json_t *j = cp_jobs_json(r, ids[i], NULL, &err);
		if (!j && err == -ENOENT)
			continue; /* deleted since it was listed */
		if (!j) {
			json_decref(items);
			return cp_fail_errno(r, err, "listing jobs");
		}
		json_array_append_new(items, j);
	}
	return cp_reply(r, 200, json_pack("{s:o}", "items", items));
}

static int
get_job(struct cp_req *r)
{
	int64_t id;
	json_t *j;
	if (cp_jobs_load(r, &id, NULL, &j))
		return r->status;
	return cp_reply(r, 200, j);
}

/* stop and cancel: one conditional UPDATE, 409 when the job is in no state to allow it */
static int
change_state(struct cp_req *r, const char *sql, const char *action, const char *verb)
{
	int64_t id;
	struct cp_job_meta m;
	if (cp_jobs_load(r, &id, &m, NULL))
		return r->status;
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, verb);
	sqlite3_stmt *st = cp_db_stmt(r->db, sql);
	if (!st) {
		cp_db_rollback(r->db);
		return cp_fail_errno(r, -EIO, verb);
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 3) {
		sqlite3_bind_text(st, 2, r->who.username, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, tide_wall_ms());
	}
	int s = sqlite3_step(st);
	sqlite3_reset(st);
	rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
	if (rc == 0 && cp_db_changes(r->db) == 0) {
		cp_db_rollback(r->db);
		return cp_fail(r, 409, "invalid_state", "cannot %s a job that is %s", verb, m.state);
	}
	char target[32];
	snprintf(target, sizeof(target), "job:%lld", (long long)id);
	if (rc == 0)
		rc = cp_audit(r, action, target, json_pack("{s:s}", "from", m.state));
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, verb);
	int err;
	json_t *j = cp_jobs_json(r, id, NULL, &err);
	return j ? cp_reply(r, 200, j) : cp_fail_errno(r, err, "reading the job");
}

static int
post_job_stop(struct cp_req *r)
{
	return change_state(r, sql_job_stop, CP_AUDIT_JOB_STOP, "stop");
}

static int
post_job_cancel(struct cp_req *r)
{
	return change_state(r, sql_job_cancel, CP_AUDIT_JOB_CANCEL, "cancel");
}

/* Removes name (a file or a tree) under dirfd without following symlinks. 0 or -errno. */
static int
remove_at(int dirfd, const char *name, int depth)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > CP_DATASET_DEPTH)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = remove_at(fd, e->d_name, depth + 1);
	closedir(dir);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

static int
delete_job(struct cp_req *r)
{
	int64_t id;
	struct cp_job_meta m;
	if (cp_jobs_load(r, &id, &m, NULL))
		return r->status;
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "deleting the job");
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_job_delete);
	int s = SQLITE_ERROR;
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		s = sqlite3_step(st);
		sqlite3_reset(st);
	}
	rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
	if (rc == 0 && cp_db_changes(r->db) == 0) {
		cp_db_rollback(r->db);
		return cp_fail(r, 409, "invalid_state",
			"only an ended job can be deleted (this one is %s)", m.state);
	}
	char target[32];
	snprintf(target, sizeof(target), "job:%lld", (long long)id);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_JOB_DELETE, target, NULL);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "deleting the job");
	cp_dataset_forget(id);
	/* the row is gone first: a crash here leaves files no route can reach, never a job
	 * without its files */
	char jobs[PATH_MAX], name[64];
	int dfd = snprintf(jobs, sizeof(jobs), "%s/jobs", r->srv->opt->data_dir) <
		(int)sizeof(jobs) ? open(jobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	static const char *const suffixes[] = { "", ".log", ".key", ".sh", ".script.log" };
	for (size_t i = 0; dfd >= 0 && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(name, sizeof(name), "%lld%s", (long long)id, suffixes[i]);
		if ((rc = remove_at(dfd, name, 0)))
			tide_warn("jobs", "job %lld: cannot remove %s/%s: %s", (long long)id, jobs,
				name, strerror(-rc));
	}
	if (dfd >= 0)
		close(dfd);
	return cp_reply(r, 204, NULL);
}

CP_ROUTE_TABLE(cp_api_jobs_routes,
	{ "POST", "/api/v1/jobs/validate", CP_PERM_JOBS_WRITE, post_validate },
	{ "POST", "/api/v1/jobs", CP_PERM_JOBS_WRITE, post_job },
	{ "GET", "/api/v1/jobs", CP_PERM_JOBS_READ, get_jobs },
	{ "GET", "/api/v1/jobs/{id}", CP_PERM_JOBS_READ, get_job },
	{ "DELETE", "/api/v1/jobs/{id}", CP_PERM_JOBS_WRITE, delete_job },
	{ "POST", "/api/v1/jobs/{id}/stop", CP_PERM_JOBS_WRITE, post_job_stop },
	{ "POST", "/api/v1/jobs/{id}/cancel", CP_PERM_JOBS_WRITE, post_job_cancel },
);
