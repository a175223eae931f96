/* cp_scheduler.c — the job scheduler and the post-processing thread (see cp_scheduler.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_drones.h"
#include "cp_job_contract.h"
#include "tide_log.h"
#include "cp_manifest.h"
#include "cp_options.h"
#include "cp_sandbox.h"
#include "cp_scheduler.h"
#include "tide_counters.h"
#include "tide_layout.h"

#define MAX_ACTIVE 512           /* jobs looked at per tick */
#define MAX_JOB_LINKS 64
#define RESEND_MS 5000           /* stop/cancel repeated while a link is finishing */
#define FINISH_TIMEOUT_MS 120000 /* a finishing link that never ends fails */
#define OVERRUN_MS 10000         /* past max_duration before the Hive stops the links itself
                                  * (each capture counts its duration from its own start, and
                                  * reports it as uptime_ms) */
#define STARTUP_MAX_MS 120000    /* a capture that never reports its uptime is stopped this long
                                  * past max_duration: starting a DPDK process takes well under a
                                  * second, but more than OVERRUN_MS on a loaded (ASan) host */
#define UNREPORTED_MS 15000      /* an online drone that does not report a capture this long */
#define PROCESSOR_JOIN_MS 3000
#define PROCESSORS_MAX 64        /* bound of the max_scripts setting */
#define BACKOFF_FIRST_MS 400     /* a job whose row could not be updated is left alone this */
#define BACKOFF_MAX_MS 10000     /* long, doubling up to this, until an update works again */
#define BACKOFF_SLOTS 1024       /* >= pending + active jobs looked at per tick (512 each) */

/* A job whose row updates fail (disk full, a trigger, a broken row): the failure is logged once
 * per statement, with SQLite's own message, and the job is skipped until next_ms — so a full
 * disk costs one log line and a few statements a minute per job, not five of each a second.
 * When the job's updates work again, that is logged with the number of failed attempts. */
struct backoff {
	int64_t job;               /* 0 = free slot */
	int64_t next_ms, delay_ms;
	int attempts;              /* failed attempts in a row */
	char what[48];             /* the statement last logged as failing */
};

/* A post-processing thread: max_scripts of them run scripts at once, each taking the oldest
 * processing job that no other one has. */
struct processor {
	struct cp_scheduler *s;
	pthread_t thread;
	bool started;
	struct cp_db *db;          /* its own connection */
	atomic_llong job;          /* the job whose script runs here, 0 = none */
	atomic_bool cancel;        /* set by the scheduler thread when that job is no longer
	                            * processing (cancelled): stops this script, no other */
	atomic_bool done;          /* the thread has returned */
};

struct cp_scheduler {
	pthread_t thread;
	atomic_bool stopping;
	struct cp_db *db;
	pthread_mutex_t pick_mu;   /* processors take distinct jobs */
	int n_processors;
	struct processor processors[PROCESSORS_MAX];
	const struct cp_options *opt;
	char data_dir[PATH_MAX];
	int64_t last_resend_ms;
	struct backoff backoffs[BACKOFF_SLOTS]; /* the scheduler thread's alone */
	int n_backoffs;            /* slots in use: none, nearly always, and then no look-up */
	bool tick_failed;          /* an update of the job being handled failed in this tick */
};

struct link_row {
	char drone[CP_DRONE_NAME_MAX + 1];
	char link[64];
	char state[16];
	char reason[256];
	json_t *counters;
	int64_t started_at;
};

static const char sql_pending[] =
	"SELECT id, " CP_JOB_PARAMS_COLUMNS ", pending_reason FROM jobs WHERE state = 'pending'"
	" ORDER BY id LIMIT 512";
static const char sql_busy[] =
	"SELECT drone, link, COUNT(*) FROM job_links WHERE state IN ('running', 'finishing')"
	" GROUP BY drone, link";
static const char sql_pending_reason[] =
	"UPDATE jobs SET pending_reason = ?2 WHERE id = ?1 AND state = 'pending'";
static const char sql_links[] =
	"SELECT drone, link, state, reason, counters, COALESCE(started_at, 0) FROM job_links"
	" WHERE job_id = ?1 ORDER BY drone, link";
static const char sql_claim_job[] =
	"UPDATE jobs SET state = 'running', started_at = ?2, pending_reason = '' WHERE id = ?1"
	" AND state = 'pending'";
static const char sql_claim_links[] =
	"UPDATE job_links SET state = 'running', started_at = ?2 WHERE job_id = ?1"
	" AND state = 'pending'";
static const char sql_active[] =
	"SELECT id, state, max_size, max_duration, COALESCE(started_at, 0), has_script, reason"
	" FROM jobs WHERE state IN ('running', 'finishing') OR (state = 'cancelled' AND (id IN"
	" (SELECT job_id FROM job_links WHERE state IN ('pending', 'running', 'finishing'))"
	" OR ended_at IS NULL))" /* a cancelled job is finalized (manifest) once its links end */
	" ORDER BY id LIMIT 512";
static const char sql_job_finishing[] =
	"UPDATE jobs SET state = 'finishing', reason = ?2 WHERE id = ?1 AND state = 'running'";
static const char sql_link_state[] =
	"UPDATE job_links SET state = ?4, reason = CASE WHEN ?5 = '' THEN reason ELSE ?5 END,"
	" ended_at = CASE WHEN ?4 IN " TIDE_JOB_ENDED_SQL " THEN ?6 ELSE ended_at END"
	" WHERE job_id = ?1 AND drone = ?2 AND link = ?3 AND state = ?7";
static const char sql_job_end[] =
	"UPDATE jobs SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE ?2 END,"
	" reason = CASE WHEN state = 'cancelled' THEN reason ELSE ?3 END, counters = ?4,"
	" ended_at = COALESCE(ended_at, ?5), dataset_bytes = ?6"
	" WHERE id = ?1 AND state IN ('running', 'finishing', 'cancelled')";
static const char sql_dataset_bytes[] =
	"SELECT COALESCE(SUM(size), 0) FROM job_files WHERE job_id = ?1";
static const char sql_next_scripts[] = /* one more than the processors can hold */
	"SELECT id, script_timeout FROM jobs WHERE state = 'processing' ORDER BY id LIMIT 65";
static const char sql_script_end[] =
	"UPDATE jobs SET state = ?2, reason = CASE WHEN ?2 IN ('done', 'partial') THEN reason"
	" ELSE ?3 END,"
	" ended_at = ?4 WHERE id = ?1 AND state = 'processing'";
static const char sql_state[] = "SELECT state FROM jobs WHERE id = ?1";
static const char sql_links_failed[] =
	"SELECT COUNT(*) FROM job_links WHERE job_id = ?1 AND state = 'failed'";
static bool links_failed(struct cp_db *db, int64_t id);
static const char sql_recover_processing[] =
	"UPDATE jobs SET state = 'failed', reason = 'control plane restarted during the script',"
	" ended_at = ?1 WHERE state = 'processing'";

/* ---- helpers ------------------------------------------------------------------------------- */

static int
write_key(const char *path, char hex[65])
{
	unsigned char key[32];
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, 65, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, hex, 64) == 64 && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	return rc;
}

static struct backoff *
backoff_of(struct cp_scheduler *s, int64_t job, bool create)
{
	struct backoff *free_slot = NULL;
	if (!create && s->n_backoffs == 0)
		return NULL;
	for (int i = 0; i < BACKOFF_SLOTS; i++) {
		if (s->backoffs[i].job == job)
			return &s->backoffs[i];
		if (!free_slot && s->backoffs[i].job == 0)
			free_slot = &s->backoffs[i];
	}
	if (create && free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->job = job;
		s->n_backoffs++;
	}
	return create ? free_slot : NULL;
}

/* Is the job waiting out a back-off? */
static bool
held(struct cp_scheduler *s, int64_t job, int64_t now)
{
	struct backoff *b = backoff_of(s, job, false);
	return b && now < b->next_ms;
}

/* An update of job's rows failed just now (what: "marking it finishing", ...): logs it unless
 * that statement's failure is already logged, and pushes the job's next attempt back. */
static void
db_failed(struct cp_scheduler *s, struct cp_db *db, int64_t job, const char *what)
{
	const char *msg = sqlite3_errmsg(cp_db_handle(db));
	struct backoff *b = backoff_of(s, job, true);
	s->tick_failed = true;
	if (!b) { /* more failing jobs than slots: cannot happen below 1024; say so, do not spin */
		tide_error("sched", "job %lld: %s failed: %s", (long long)job, what, msg);
		return;
	}
	if (strcmp(b->what, what) != 0) {
		tide_error("sched", "job %lld: %s failed: %s (retrying, at most every %d s)",
			(long long)job, what, msg, BACKOFF_MAX_MS / 1000);
		snprintf(b->what, sizeof(b->what), "%s", what);
	}
	b->attempts++;
	b->delay_ms = b->delay_ms ? b->delay_ms * 2 : BACKOFF_FIRST_MS;
	if (b->delay_ms > BACKOFF_MAX_MS)
		b->delay_ms = BACKOFF_MAX_MS;
	b->next_ms = tide_wall_ms() + b->delay_ms;
}

/* The job was handled in this tick without a failed update: forget its back-off. */
static void
db_worked(struct cp_scheduler *s, int64_t job)
{
	struct backoff *b = backoff_of(s, job, false);
	if (!b)
		return;
	tide_info("sched", "job %lld: its rows can be updated again, after %d failed attempt(s)",
		(long long)job, b->attempts);
	b->job = 0;
	s->n_backoffs--;
}

static int
load_links(struct cp_db *db, int64_t job, struct link_row *out, int max)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_links);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job);
	int n = 0;
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		struct link_row *l = &out[n++];
		snprintf(l->drone, sizeof(l->drone), "%s", sqlite3_column_text(st, 0));
		snprintf(l->link, sizeof(l->link), "%s", sqlite3_column_text(st, 1));
		snprintf(l->state, sizeof(l->state), "%s", sqlite3_column_text(st, 2));
		snprintf(l->reason, sizeof(l->reason), "%s", sqlite3_column_text(st, 3));
		l->counters = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
		l->started_at = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	return n;
}

static void
free_links(struct link_row *l, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(l[i].counters);
}

static int
set_link(struct cp_scheduler *s, int64_t job, const struct link_row *l, const char *to,
	const char *reason)
{
	struct cp_db *db = s->db;
	sqlite3_stmt *st = cp_db_stmt(db, sql_link_state);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_text(st, 2, l->drone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, l->link, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, reason ? reason : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, tide_wall_ms());
	sqlite3_bind_text(st, 7, l->state, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		char what[48];
		snprintf(what, sizeof(what), "marking a link %s", to);
		db_failed(s, db, job, what);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE && cp_db_changes(db) && reason && reason[0])
		tide_info("sched", "job %lld: %s/%s %s: %s", (long long)job, l->drone, l->link, to,
			reason);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

static bool
active(const char *state)
{
	return !strcmp(state, "running") || !strcmp(state, "finishing");
}

static bool
ended(const char *state)
{
	return tide_job_state_ended(state);
}

/* ---- starting jobs ------------------------------------------------------------------------- */

/* The start message: the job as the contract writes it ("params"), which the drone reads with
 * the same tide_job_from_json; "link" is set per link by the caller. */
static json_t *
start_message(int64_t job, const struct tide_job *params)
{
	json_t *p = tide_job_to_json(params);
	json_t *m = p ? json_object() : NULL;
	if (!m) {
		json_decref(p);
		return NULL;
	}
	json_object_set_new(m, "type", json_string("start"));
	json_object_set_new(m, "job", json_integer(job));
	json_object_set_new(m, "link", json_string(""));
	json_object_set_new(m, "params", p);
	return m;
}

/* Job slots of one (drone, link) in this tick: taken by running and finishing captures, and
 * promised to the pending jobs looked at so far (oldest first), so that a newer job never
 * overtakes an older one waiting for the same link. */
struct slot_use {
	char drone[CP_DRONE_NAME_MAX + 1];
	char link[64];
	int running, promised;
};

#define SLOT_USES 4096 /* distinct (drone, link) pairs looked at per tick */

static struct slot_use *
slot_use(struct slot_use *u, int *n, const char *drone, const char *link)
{
	for (int i = 0; i < *n; i++)
		if (!strcasecmp(u[i].drone, drone) && !strcmp(u[i].link, link))
			return &u[i];
	if (*n == SLOT_USES)
		return NULL;
	struct slot_use *x = &u[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->drone, sizeof(x->drone), "%.31s", drone);
	snprintf(x->link, sizeof(x->link), "%s", link);
	return x;
}

/* Why a job with these links cannot start now ("" when it can); promises their slots to it. */
static void
why_pending(struct slot_use *uses, int *n_uses, const struct link_row *links, int nl,
	char *why, size_t size)
{
	why[0] = '\0';
	for (int i = 0; i < nl; i++) {
		const struct link_row *l = &links[i];
		int slots = cp_drones_link_slots(l->drone, l->link);
		struct slot_use *u = slot_use(uses, n_uses, l->drone, l->link);
		if (why[0])
			;
		else if (!u)
			snprintf(why, size, "the scheduler looks at no more links at once");
		else if (slots < 0)
			snprintf(why, size, "drone %.31s is offline", l->drone);
		else if (slots == 0)
			snprintf(why, size, "drone %.31s does not report a link %.63s", l->drone, l->link);
		else if (u->running >= slots)
			snprintf(why, size, "link %.63s on drone %.31s: all %d job slot%s busy", l->link,
				l->drone, slots, slots == 1 ? "" : "s");
		else if (u->running + u->promised >= slots)
			snprintf(why, size, "link %.63s on drone %.31s: its free job slots are promised to "
				"older pending jobs", l->link, l->drone);
		if (u)
			u->promised++;
	}
}

static void
set_pending_reason(struct cp_scheduler *s, int64_t job, const char *why)
{
	sqlite3_stmt *st = cp_db_stmt(s->db, sql_pending_reason);
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_failed(s, s->db, job, "recording why it waits");
	sqlite3_reset(st);
}

static void
start_pending(struct cp_scheduler *s)
{
	static struct slot_use uses[SLOT_USES];
	int n_uses = 0;
	sqlite3_stmt *st = cp_db_stmt(s->db, sql_busy);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		struct slot_use *u = slot_use(uses, &n_uses,
			(const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
		if (u)
			u->running = sqlite3_column_int(st, 2);
	}
	if (st)
		sqlite3_reset(st);

	struct pending {
		int64_t id;
		struct tide_job params;
		char reason[256];
	};
	static struct pending jobs[512];
	int n = 0;
	st = cp_db_stmt(s->db, sql_pending);
	while (st && n < 512 && sqlite3_step(st) == SQLITE_ROW) {
		struct pending *p = &jobs[n++];
		p->id = sqlite3_column_int64(st, 0);
		cp_job_params_read(st, 1, &p->params);
		snprintf(p->reason, sizeof(p->reason), "%s",
			sqlite3_column_text(st, 1 + CP_JOB_PARAMS_N));
	}
	if (st)
		sqlite3_reset(st);

	for (int j = 0; j < n; j++) {
		struct pending *p = &jobs[j];
		struct link_row links[MAX_JOB_LINKS];
		int nl = load_links(s->db, p->id, links, MAX_JOB_LINKS);
		char why[256];
		why_pending(uses, &n_uses, links, nl > 0 ? nl : 0, why, sizeof(why));
		if (nl <= 0 && !why[0])
			snprintf(why, sizeof(why), "its links cannot be read");
		bool backoff = held(s, p->id, tide_wall_ms());
		if (!why[0] && backoff)
			snprintf(why, sizeof(why), "recording its start failed; retrying");
		if (why[0]) {
			if (strcmp(why, p->reason) != 0 && !backoff)
				set_pending_reason(s, p->id, why);
			free_links(links, nl);
			continue;
		}
		char key_path[PATH_MAX], hex[65] = "";
		if (p->params.anonymise && (cp_drone_job_path(s->data_dir, p->id, ".key", key_path,
			sizeof(key_path)) || write_key(key_path, hex))) {
			tide_error("sched", "job %lld: cannot write its anonymisation key", (long long)p->id);
			free_links(links, nl);
			continue;
		}
		int64_t now = tide_wall_ms();
		int rc = cp_db_begin(s->db);
		bool open = rc == 0;
		if (rc == 0)
			rc = cp_db_run(s->db, sql_claim_job, p->id, now);
		bool won = rc == 0 && cp_db_changes(s->db) == 1;
		if (won)
			rc = cp_db_run(s->db, sql_claim_links, p->id, now);
		if (rc == 0 && won) {
			rc = cp_db_commit(s->db); /* which rolls back itself when it fails */
			open = false;
		}
		if (rc)
			db_failed(s, s->db, p->id, "starting it"); /* before a rollback: its message */
		if (open)
			cp_db_rollback(s->db);
		if (rc || !won) {
			free_links(links, nl);
			continue; /* cancelled meanwhile, or the update failed: later */
		}
		db_worked(s, p->id);
		json_t *m = start_message(p->id, &p->params);
		if (hex[0])
			json_object_set_new(m, "anon_key", json_string(hex));
		for (int i = 0; i < nl; i++) {
			json_object_set_new(m, "link", json_string(links[i].link));
			if (cp_drones_send(links[i].drone, m))
				tide_warn("sched", "job %lld: %s went offline before its start",
					(long long)p->id, links[i].drone);
		}
		sodium_memzero(hex, sizeof(hex));
		json_decref(m);
		tide_info("sched", "job %lld running on %d link(s)", (long long)p->id, nl);
		free_links(links, nl);
	}
}

/* ---- running jobs -------------------------------------------------------------------------- */

static void
send_to_link(const struct link_row *l, int64_t job, const char *type)
{
	json_t *m = json_pack("{s:s, s:I, s:s}", "type", type, "job", (json_int_t)job, "link",
		l->link);
	cp_drones_send(l->drone, m);
	json_decref(m);
}

/* Does the online drone still report this capture? */
static bool
drone_reports(const char *drone, int64_t job, const char *link, int64_t *connected_at)
{
	json_t *live = cp_drones_live(drone);
	bool found = false;
	*connected_at = json_integer_value(json_object_get(live, "connected_at"));
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(live, "captures"), i, c)
		if (json_integer_value(json_object_get(c, "job")) == job &&
			!strcmp(json_string_value(json_object_get(c, "link")) ?: "", link))
			found = true;
	json_decref(live);
	return found;
}

/* The job's counters: its links' summed, drops by reason included (cp_job_contract.h). */
static json_t *
sum_counters(const struct link_row *l, int n)
{
	json_t *sum = cp_job_counters_zero();
	for (int i = 0; i < n; i++)
		cp_job_counters_add(sum, l[i].counters);
	return sum;
}

static void
finalize(struct cp_scheduler *s, int64_t job, const char *job_reason, bool has_script,
	struct link_row *links, int nl)
{
	for (int i = 0; i < nl; i++)
		if (cp_manifest_link_counters(s->db, s->data_dir, job, links[i].drone,
			links[i].link, &links[i].counters))
			db_failed(s, s->db, job, "recording a link's counters");
	const char *state = has_script ? "processing" : "done";
	char reason[512];
	snprintf(reason, sizeof(reason), "%s", job_reason);
	/* every link failed: the job failed; some did: it is partial, and keeps what the others
	 * captured (a script still runs on that); the reason names each failed link */
	int failed = 0;
	size_t off = 0;
	for (int i = 0; i < nl; i++) {
		if (strcmp(links[i].state, "failed"))
			continue;
		if (off < sizeof(reason) - 1) {
			int w = snprintf(reason + off, sizeof(reason) - off, "%s%s/%s: %s",
				failed ? "; " : "", links[i].drone, links[i].link, links[i].reason);
			off += w > 0 ? (size_t)w : 0;
			if (off > sizeof(reason) - 1)
				off = sizeof(reason) - 1;
		}
		failed++;
	}
	if (failed && failed == nl)
		state = "failed";
	else if (failed && !has_script)
		state = "partial";
	if (!reason[0])
		for (int i = 0; i < nl; i++)
			if (links[i].reason[0]) {
				snprintf(reason, sizeof(reason), "%s", links[i].reason);
				break;
			}
	json_t *counters = sum_counters(links, nl);
	if (reason[0] && !failed)
		json_object_set_new(counters, "stop_reason", json_string(reason));
	int64_t bytes = 0;
	sqlite3_stmt *st = cp_db_stmt(s->db, sql_dataset_bytes);
	if (st) {
		sqlite3_bind_int64(st, 1, job);
		if (sqlite3_step(st) == SQLITE_ROW)
			bytes = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	char *text = json_dumps(counters, JSON_COMPACT);
	st = cp_db_stmt(s->db, sql_job_end);
	if (st && text) {
		sqlite3_bind_int64(st, 1, job);
		sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, tide_wall_ms());
		sqlite3_bind_int64(st, 6, bytes);
		if (sqlite3_step(st) == SQLITE_DONE) {
			tide_info("sched", "job %lld ended: %s%s%s", (long long)job, state,
				reason[0] ? " — " : "", reason);
			/* from the rows just written: a cancelled job's manifest says cancelled */
			cp_manifest_write(s->db, s->data_dir, job);
		} else {
			db_failed(s, s->db, job, "recording its end");
		}
		sqlite3_reset(st);
	} else {
		s->tick_failed = true; /* no statement or no memory: try again later */
	}
	free(text);
	json_decref(counters);
}

/* Captures stop themselves at max_duration, counted from their own start; this is the backstop
 * for one that does not: a link whose capture reports (uptime_ms) that it ran OVERRUN_MS past
 * max_duration, or a job none of whose captures got that far STARTUP_MAX_MS past it. Counting
 * from the job's start instead stopped captures that were slow to start (more than OVERRUN_MS
 * on a loaded host) before they had captured anything. */
static bool
overran(int64_t max_duration, int64_t started_at, int64_t now, const struct link_row *l, int nl)
{
	int64_t limit = max_duration * 1000;
	for (int i = 0; i < nl; i++)
		if (active(l[i].state) &&
			json_integer_value(json_object_get(l[i].counters, "uptime_ms")) >=
			limit + OVERRUN_MS)
			return true;
	return started_at && now - started_at >= limit + STARTUP_MAX_MS;
}

static void
supervise(struct cp_scheduler *s)
{
	struct job {
		int64_t id, max_size, max_duration, started_at;
		char state[16], reason[256];
		bool has_script;
	};
	static struct job jobs[MAX_ACTIVE];
	int n = 0;
	sqlite3_stmt *st = cp_db_stmt(s->db, sql_active);
	while (st && n < MAX_ACTIVE && sqlite3_step(st) == SQLITE_ROW) {
		struct job *j = &jobs[n++];
		j->id = sqlite3_column_int64(st, 0);
		snprintf(j->state, sizeof(j->state), "%s", sqlite3_column_text(st, 1));
		j->max_size = sqlite3_column_int64(st, 2);
		j->max_duration = sqlite3_column_int64(st, 3);
		j->started_at = sqlite3_column_int64(st, 4);
		j->has_script = sqlite3_column_int(st, 5) != 0;
		snprintf(j->reason, sizeof(j->reason), "%s", sqlite3_column_text(st, 6));
	}
	if (st)
		sqlite3_reset(st);
	int64_t now = tide_wall_ms();
	bool resend = now - s->last_resend_ms >= RESEND_MS;
	if (resend)
		s->last_resend_ms = now;
	int64_t grace = (int64_t)s->opt->drone_grace * 1000;

	for (int k = 0; k < n; k++) {
		struct job *j = &jobs[k];
		if (held(s, j->id, now))
			continue;
		s->tick_failed = false;
		struct link_row links[MAX_JOB_LINKS];
		int nl = load_links(s->db, j->id, links, MAX_JOB_LINKS);
		if (nl < 0)
			continue;
		bool cancelled = !strcmp(j->state, "cancelled");
		/* links that can no longer end by themselves */
		for (int i = 0; i < nl; i++) {
			struct link_row *l = &links[i];
			int64_t away_since, connected_at;
			if (!strcmp(l->state, "pending")) {
				if (cancelled && set_link(s, j->id, l, "cancelled", "") == 0)
					snprintf(l->state, sizeof(l->state), "cancelled");
				continue;
			}
			if (!active(l->state))
				continue;
			char why[256] = "";
			if (!cp_drones_online(l->drone, &away_since)) {
				if (now - away_since > grace)
					snprintf(why, sizeof(why), "drone %.31s lost (offline for %lld s)",
						l->drone, (long long)((now - away_since) / 1000));
			} else if (!drone_reports(l->drone, j->id, l->link, &connected_at) &&
				now - connected_at > UNREPORTED_MS &&
				now - l->started_at > UNREPORTED_MS) {
				snprintf(why, sizeof(why), "drone %.31s no longer has this capture",
					l->drone);
			} else if (!strcmp(l->state, "finishing") && j->started_at &&
				now - j->started_at > j->max_duration * 1000 + STARTUP_MAX_MS +
					FINISH_TIMEOUT_MS) {
				snprintf(why, sizeof(why), "drone %.31s did not stop the capture", l->drone);
			}
			if (why[0] && set_link(s, j->id, l, "failed", why) == 0) {
				snprintf(l->state, sizeof(l->state), "failed");
				snprintf(l->reason, sizeof(l->reason), "%s", why);
			}
		}
		/* limits across every link, and a failed link stops the others */
		if (!strcmp(j->state, "running")) {
			json_t *sum = sum_counters(links, nl);
			const char *stop = NULL;
			if (json_integer_value(json_object_get(sum, "bytes")) >= j->max_size)
				stop = "max_size";
			else if (overran(j->max_duration, j->started_at, now, links, nl))
				stop = "max_duration";
			/* a failed link does not stop the others: the job ends partial */
			bool all_ended = true;
			for (int i = 0; i < nl; i++)
				all_ended &= ended(links[i].state);
			json_decref(sum);
			if (stop && !all_ended) {
				sqlite3_stmt *u = cp_db_stmt(s->db, sql_job_finishing);
				if (u) {
					sqlite3_bind_int64(u, 1, j->id);
					sqlite3_bind_text(u, 2, stop, -1, SQLITE_STATIC);
					if (sqlite3_step(u) != SQLITE_DONE)
						db_failed(s, s->db, j->id, "marking it finishing");
					else if (cp_db_changes(s->db))
						tide_info("sched", "job %lld finishing: %s", (long long)j->id,
							stop);
					sqlite3_reset(u);
				}
				/* the links are stopped in this tick even when the job's row could not
				 * be updated: the limit holds, and the row follows at a later attempt */
				snprintf(j->state, sizeof(j->state), "finishing");
			}
		}
		/* tell drones to stop (or cancel) their captures; repeated while they finish */
		bool stopping = !strcmp(j->state, "finishing") || cancelled;
		for (int i = 0; stopping && i < nl; i++) {
			struct link_row *l = &links[i];
			if (!strcmp(l->state, "running")) {
				send_to_link(l, j->id, cancelled ? "cancel" : "stop");
				if (set_link(s, j->id, l, "finishing", "") == 0)
					snprintf(l->state, sizeof(l->state), "finishing");
			} else if (!strcmp(l->state, "finishing") && resend) {
				send_to_link(l, j->id, cancelled ? "cancel" : "stop");
			}
		}
		bool all_ended = nl > 0;
		for (int i = 0; i < nl; i++)
			all_ended &= ended(links[i].state);
		if (all_ended)
			finalize(s, j->id, j->reason, j->has_script, links, nl);
		if (!s->tick_failed)
			db_worked(s, j->id);
		free_links(links, nl);
	}
}

static void *
scheduler(void *arg)
{
	struct cp_scheduler *s = arg;
	while (!atomic_load(&s->stopping)) {
		start_pending(s);
		supervise(s);
		/* a cancelled processing job stops its script, on whichever processor it runs */
		for (int i = 0; i < s->n_processors; i++) {
			struct processor *p = &s->processors[i];
			long long id = atomic_load(&p->job);
			sqlite3_stmt *st = id > 0 ? cp_db_stmt(s->db, sql_state) : NULL;
			if (!st)
				continue;
			sqlite3_bind_int64(st, 1, id);
			if (sqlite3_step(st) == SQLITE_ROW &&
				strcmp((const char *)sqlite3_column_text(st, 0), "processing") != 0 &&
				atomic_load(&p->job) == id)
				atomic_store(&p->cancel, true);
			sqlite3_reset(st);
		}
		cp_db_reset_all(s->db);
		usleep(CP_SCHED_POLL_MS * 1000);
	}
	return NULL;
}

/* ---- post-processing ------------------------------------------------------------------- */

/* The sandbox uid reads the dataset: files 0644, directories 0755 (symlinks are left alone;
 * the data directory above stays 0700). */
static int
open_up(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_F)
		return chmod(path, 0644) == 0 ? 0 : -errno;
	if (type == FTW_D)
		return chmod(path, 0755) == 0 ? 0 : -errno;
	return 0;
}

/* Records the script's end. Until that works the job stays 'processing' and this processor
 * keeps it — another would run the script again — retrying with the scheduler's back-off and
 * logging the failure once, with SQLite's message. */
static void
set_script_end(struct processor *p, int64_t id, const char *state, const char *reason)
{
	int64_t delay = BACKOFF_FIRST_MS;
	for (int attempt = 1;; attempt++) {
		sqlite3_stmt *st = cp_db_stmt(p->db, sql_script_end);
		int rc = SQLITE_ERROR;
		if (st) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, reason, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 4, tide_wall_ms());
			rc = sqlite3_step(st);
			if (rc != SQLITE_DONE && attempt == 1)
				tide_error("sched", "job %lld: recording the script's end failed: %s "
					"(retrying, at most every %d s)", (long long)id,
					sqlite3_errmsg(cp_db_handle(p->db)), BACKOFF_MAX_MS / 1000);
			sqlite3_reset(st);
		}
		cp_db_reset_all(p->db);
		if (rc == SQLITE_DONE) {
			tide_info("sched", "job %lld ended: %s (%s)%s", (long long)id, state, reason,
				attempt > 1 ? ", recorded after failed attempts" : "");
			return;
		}
		for (int64_t t = 0; t < delay && !atomic_load(&p->s->stopping); t += 100)
			usleep(100 * 1000);
		if (atomic_load(&p->s->stopping))
			return; /* the next start fails the job, clearly */
		delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	}
}

static void
process_job(struct processor *pr, int64_t id, uint32_t timeout_s)
{
	struct cp_scheduler *s = pr->s;
	char script[PATH_MAX], dataset[PATH_MAX], processed[PATH_MAX], log[PATH_MAX];
	char reason[256];
	int rc = 0;
	if (cp_drone_job_path(s->data_dir, id, ".sh", script, sizeof(script)) ||
		cp_drone_job_path(s->data_dir, id, "", dataset, sizeof(dataset)) ||
		cp_drone_job_path(s->data_dir, id, "/" TIDE_LAYOUT_PROCESSED, processed,
			sizeof(processed)) ||
		cp_drone_job_path(s->data_dir, id, ".script.log", log, sizeof(log)))
		rc = -ENAMETOOLONG;
	if (rc == 0 && mkdir(dataset, 0755) != 0 && errno != EEXIST)
		rc = -errno;
	if (rc == 0 && mkdir(processed, 0755) != 0 && errno != EEXIST)
		rc = -errno;
	if (rc == 0)
		rc = nftw(dataset, open_up, 16, FTW_PHYS);
	if (rc > 0)
		rc = -EIO;
	struct cp_sandbox_params p = {
		.script_path = script,
		.dataset_dir = dataset,
		.processed_dir = processed,
		.log_path = log,
		.timeout_s = timeout_s,
		.cancel = &pr->cancel,
	};
	struct cp_sandbox_result res;
	memset(&res, 0, sizeof(res));
	if (rc == 0) {
		tide_info("sched", "job %lld processing: %s", (long long)id, script);
		rc = cp_sandbox_run(&p, &res);
	}
	if (atomic_load(&s->stopping))
		return; /* the Hive is stopping: the next start fails the job, clearly */
	const char *state = "failed";
	if (res.cancelled)
		state = "cancelled", snprintf(reason, sizeof(reason), "script cancelled");
	else if (rc < 0)
		snprintf(reason, sizeof(reason), "script could not run: %s", strerror(-rc));
	else if (res.timed_out)
		snprintf(reason, sizeof(reason), "script timed out");
	else if (res.exit_status < 0)
		snprintf(reason, sizeof(reason), "script was stopped");
	else if (res.exit_status != 0)
		snprintf(reason, sizeof(reason), "script exited %d", res.exit_status);
	else if (links_failed(pr->db, id))
		state = "partial", reason[0] = '\0'; /* the reason names the failed links already */
	else
		state = "done", reason[0] = '\0';
	/* a cancelled job is already 'cancelled': the conditional update leaves it so */
	set_script_end(pr, id, state, reason);
	/* the job's true end: its manifest again, with processed/ and the final state */
	cp_manifest_write(pr->db, s->data_dir, id);
}

/* Did some of the job's links fail (its dataset is partial)? */
static bool
links_failed(struct cp_db *db, int64_t id)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_links_failed);
	bool any = false;
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		any = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
		sqlite3_reset(st);
	}
	return any;
}

/* Is the job's script running on a processor? Under pick_mu. */
static bool
taken(const struct cp_scheduler *s, int64_t id)
{
	for (int i = 0; i < s->n_processors; i++)
		if (atomic_load(&s->processors[i].job) == id)
			return true;
	return false;
}

static void *
processor(void *arg)
{
	struct processor *p = arg;
	struct cp_scheduler *s = p->s;
	while (!atomic_load(&s->stopping)) {
		int64_t id = 0, timeout = 0;
		pthread_mutex_lock(&s->pick_mu);
		sqlite3_stmt *st = cp_db_stmt(p->db, sql_next_scripts);
		while (st && id == 0 && sqlite3_step(st) == SQLITE_ROW)
			if (!taken(s, sqlite3_column_int64(st, 0))) {
				id = sqlite3_column_int64(st, 0);
				timeout = sqlite3_column_int64(st, 1);
			}
		if (st)
			sqlite3_reset(st);
		if (id > 0) {
			atomic_store(&p->cancel, false);
			atomic_store(&p->job, id);
		}
		pthread_mutex_unlock(&s->pick_mu);
		if (id > 0)
			process_job(p, id, timeout > 0 && timeout <= UINT32_MAX ? (uint32_t)timeout : 0);
		atomic_store(&p->job, 0);
		cp_db_reset_all(p->db);
		if (id <= 0)
			usleep(CP_SCHED_POLL_MS * 1000);
	}
	atomic_store(&p->done, true);
	return NULL;
}

/* Stops the processors that started: each script is stopped like a cancel, and they are given
 * PROCESSOR_JOIN_MS to return. false when one is still running (it is left behind). */
static bool
stop_processors(struct cp_scheduler *s)
{
	for (int i = 0; i < s->n_processors; i++)
		atomic_store(&s->processors[i].cancel, true);
	bool all = false;
	for (int t = 0; !all && t <= PROCESSOR_JOIN_MS / 50; t++) {
		all = true;
		for (int i = 0; i < s->n_processors; i++)
			all &= !s->processors[i].started || atomic_load(&s->processors[i].done);
		if (!all)
			usleep(50000);
	}
	if (!all)
		return false;
	for (int i = 0; i < s->n_processors; i++) {
		if (s->processors[i].started)
			pthread_join(s->processors[i].thread, NULL);
		cp_db_close(s->processors[i].db);
	}
	return true;
}

struct cp_scheduler *
cp_scheduler_start(const struct cp_options *o, const char *db_path)
{
	struct cp_scheduler *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->opt = o;
	int rc = (size_t)snprintf(s->data_dir, sizeof(s->data_dir), "%s", o->data_dir) >=
		sizeof(s->data_dir) ? -ENAMETOOLONG : 0;
	if (rc == 0 && !(s->db = cp_db_open(db_path)))
		rc = -errno;
	pthread_mutex_init(&s->pick_mu, NULL);
	s->n_processors = o->max_scripts > 0 && o->max_scripts <= PROCESSORS_MAX ?
		(int)o->max_scripts : 1;
	for (int i = 0; rc == 0 && i < s->n_processors; i++) {
		s->processors[i].s = s;
		if (!(s->processors[i].db = cp_db_open(db_path)))
			rc = -errno;
	}
	if (rc == 0) {
		/* a script interrupted by a stop or a crash is not rerun: the job fails clearly */
		sqlite3_stmt *st = cp_db_stmt(s->db, sql_recover_processing);
		if (st) {
			sqlite3_bind_int64(st, 1, tide_wall_ms());
			sqlite3_step(st);
			if (cp_db_changes(s->db))
				tide_warn("sched", "%d job(s) failed: control plane restarted during their "
					"script", cp_db_changes(s->db));
			sqlite3_reset(st);
		}
		char jobs[PATH_MAX + 8];
		snprintf(jobs, sizeof(jobs), "%s/jobs", s->data_dir);
		if (mkdir(jobs, 0700) != 0 && errno != EEXIST)
			rc = -errno;
	}
	for (int i = 0; rc == 0 && i < s->n_processors; i++) {
		rc = -pthread_create(&s->processors[i].thread, NULL, processor, &s->processors[i]);
		s->processors[i].started = rc == 0;
	}
	if (rc == 0)
		rc = -pthread_create(&s->thread, NULL, scheduler, s);
	if (rc) {
		tide_error("sched", "cannot start the scheduler: %s", strerror(-rc));
		atomic_store(&s->stopping, true);
		stop_processors(s); /* nothing to process yet: they return within a poll */
		cp_db_close(s->db);
		pthread_mutex_destroy(&s->pick_mu);
		free(s);
		errno = -rc;
		return NULL;
	}
	return s;
}

void
cp_scheduler_stop(struct cp_scheduler *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	pthread_join(s->thread, NULL);
	if (!stop_processors(s)) {
		tide_warn("sched", "a post-processing script is still running: left behind");
		cp_db_close(s->db);
		return;
	}
	cp_db_close(s->db);
	pthread_mutex_destroy(&s->pick_mu);
	free(s);
}
