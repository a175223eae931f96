/* cp_audit.c — appends audit rows, and tallies the refusals a client can repeat at will
 * (cp_audit.h says why and how); the reading side is GET /api/v1/audit (cp_api_system.c).
 *
 * The tally is a fixed table under one mutex: a refusal costs a scan of it (at most
 * CP_AUDIT_TALLY_MAX slots, no allocation) and, unless it is a subject's first, no write at
 * all. Closed windows are taken out under the mutex and written outside it, so a refusal
 * never waits for another's fsync. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp_audit.h"
#include "cp_db.h"
#include "cp_http.h"
#include "tide_log.h"

#define TALLY_NAMES 8          /* distinct actors and addresses a summary names */
#define TALLY_TEXT 96
#define TALLY_INLINE 4         /* closed windows a refusal writes with its own (stack: ~2 KiB) */

static const char sql_audit_insert[] =
	"INSERT INTO audit (time, actor, address, action, target, detail)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

static int
append_at(struct cp_db *db, int64_t time, const char *actor, const char *addr,
	const char *action, const char *target, json_t *detail)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	sqlite3_stmt *st = cp_db_stmt(db, sql_audit_insert);
	if (!st) {
		free(text);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, time);
	sqlite3_bind_text(st, 2, actor && *actor ? actor : "-", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, addr ? addr : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, target ? target : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, text ? text : "{}", -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(text);
	if (rc != SQLITE_DONE) {
		tide_error("audit", "cannot append %s: %s", action, sqlite3_errstr(rc));
		return cp_db_errno(rc);
	}
	return 0;
}

int
cp_audit_append(struct cp_db *db, const char *actor, const char *addr, const char *action,
	const char *target, json_t *detail)
{
	return append_at(db, tide_wall_ms(), actor, addr, action, target, detail);
}

int
cp_audit(struct cp_req *r, const char *action, const char *target, json_t *detail)
{
	return cp_audit_append(r->db, r->who.kind ? r->who.username : NULL, r->addr, action, target,
		detail);
}

/* ---- the refusal tally ------------------------------------------------------------------- */

struct tally {
	bool used;
	char subject[TALLY_TEXT], reason[32], what[TALLY_TEXT], action[32];
	char actor[CP_USERNAME_MAX + 1], addr[CP_ADDR_MAX], target[TALLY_TEXT];
	json_t *detail;             /* the first refusal's, the base of every summary */
	int64_t window_end;         /* ms; refusals before it join this window */
	int64_t count, since, until; /* refusals counted in this window, first and last */
	json_t *actors, *addrs;     /* distinct, at most TALLY_NAMES each */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake;        /* a window opened, or stop */
	int64_t window_ms;
	bool running, stopping;
	pthread_t thread;
	char db_path[4096];
	struct tally slot[CP_AUDIT_TALLY_MAX];
} tally = { .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
	.window_ms = 60000 };

static void
copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* The module of the log line: the action's area ("auth.login" → "auth"). */
static void
log_module(const char *action, char out[32])
{
	snprintf(out, 32, "%.*s", (int)strcspn(action, "."), action);
}

static void
add_distinct(json_t *list, const char *value)
{
	size_t i;
	json_t *v;
	if (json_array_size(list) >= TALLY_NAMES)
		return;
	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), value) == 0)
			return;
	json_array_append_new(list, json_string(value));
}

static void
release(struct tally *t)
{
	json_decref(t->detail);
	json_decref(t->actors);
	json_decref(t->addrs);
	memset(t, 0, sizeof(*t));
}

/* Under the mutex: copies of at most max windows that closed by now (all of them when
 * everything) into out, their references moved; a window that counted refusals makes way
 * for the next one of the same subject, an empty one ends the tally. */
static size_t
take_closed(int64_t now, bool everything, struct tally *out, size_t max)
{
	size_t n = 0;
	for (int i = 0; i < CP_AUDIT_TALLY_MAX && n < max; i++) {
		struct tally *t = &tally.slot[i];
		if (!t->used || (!everything && t->window_end > now))
			continue;
		if (t->count == 0) {
			release(t);
			continue;
		}
		out[n] = *t;
		out[n].detail = json_deep_copy(t->detail);
		n++;
		t->count = 0;
		t->actors = json_array();
		t->addrs = json_array();
		/* a flood keeps its subject tallied: one row per window; a window closed long ago
		 * (nobody wrote it in time) gives way to a fresh start */
		t->window_end += tally.window_ms;
		if (everything || t->window_end <= now)
			release(t);
	}
	return n;
}

/* Writes one window's summary row and log line; consumes t's references. */
static int
write_summary(struct cp_db *db, struct tally *t)
{
	char since[TIDE_TIME_LEN], until[TIDE_TIME_LEN], module[32];
	json_t *d = json_is_object(t->detail) ? t->detail : json_object();
	if (d != t->detail)
		json_decref(t->detail);
	json_object_set_new(d, "count", json_integer(t->count));
	json_object_set_new(d, "summary", json_true());
	json_object_set_new(d, "since", json_string(tide_time_format(t->since, since)));
	json_object_set_new(d, "until", json_string(tide_time_format(t->until, until)));
	json_object_set_new(d, "actors", t->actors);
	json_object_set_new(d, "addresses", t->addrs);
	size_t n_addrs = json_array_size(t->addrs);
	log_module(t->action, module);
	tide_warn(module, "%s: %s, %lld more from %zu address%s (%s%s) between %s and %s count=%lld",
		t->what, t->subject, (long long)t->count, n_addrs, n_addrs == 1 ? "" : "es",
		n_addrs ? json_string_value(json_array_get(t->addrs, 0)) : "",
		n_addrs > 1 ? ", ..." : "", since,
		until, (long long)t->count);
	return append_at(db, t->until, t->actor, t->addr, t->action, t->target, d);
}

/* Writes n taken windows in one transaction. 0 or -errno (the rows are lost then; the
 * failure is logged by the database layer). */
static int
write_summaries(struct cp_db *db, struct tally *t, size_t n)
{
	if (n == 0)
		return 0;
	int rc = cp_db_begin(db);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0) {
			rc = write_summary(db, &t[i]);
		} else {
			json_decref(t[i].detail);
			json_decref(t[i].actors);
			json_decref(t[i].addrs);
		}
	}
	if (rc == 0)
		rc = cp_db_commit(db);
	else
		cp_db_rollback(db);
	return rc;
}

int
cp_audit_refusal(struct cp_db *db, const struct cp_audit_refusal *ref)
{
	int64_t now = tide_wall_ms();
	/* a few closed windows are written here, with this refusal; the thread writes the rest
	 * (and all of them when it is not running, at the next refusals) */
	struct tally closed[TALLY_INLINE];
	pthread_mutex_lock(&tally.mu);
	size_t n_closed = take_closed(now, false, closed, TALLY_INLINE);
	struct tally *t = NULL, *free_slot = NULL;
	for (int i = 0; i < CP_AUDIT_TALLY_MAX && !t; i++) {
		struct tally *s = &tally.slot[i];
		if (!s->used)
			free_slot = free_slot ? free_slot : s;
		else if (!strcmp(s->subject, ref->subject) && !strcmp(s->reason, ref->reason))
			t = s;
	}
	bool counted = t != NULL;
	if (t) {
		if (t->count++ == 0)
			t->since = now;
		t->until = now;
		add_distinct(t->actors, ref->actor && *ref->actor ? ref->actor : "-");
		add_distinct(t->addrs, ref->addr ? ref->addr : "");
	} else if (free_slot) {
		t = free_slot;
		t->used = true;
		copy(t->subject, sizeof(t->subject), ref->subject);
		copy(t->reason, sizeof(t->reason), ref->reason);
		copy(t->what, sizeof(t->what), ref->what);
		copy(t->action, sizeof(t->action), ref->action);
		copy(t->actor, sizeof(t->actor), ref->actor);
		copy(t->addr, sizeof(t->addr), ref->addr);
		copy(t->target, sizeof(t->target), ref->target);
		t->detail = ref->detail ? json_deep_copy(ref->detail) : json_object();
		t->actors = json_array();
		t->addrs = json_array();
		t->window_end = now + tally.window_ms;
		pthread_cond_signal(&tally.wake);
	}
	int64_t window_s = tally.window_ms / 1000;
	pthread_mutex_unlock(&tally.mu);

	json_t *d = ref->detail;
	if (counted) {
		json_decref(d);
		d = NULL;
	} else {
		char module[32];
		log_module(ref->action, module);
		tide_warn(module, "%s: %s from %s (as '%s'); repeats within %llds are counted, not "
			"logged one by one count=1", ref->what, ref->subject, ref->addr ? ref->addr : "",
			ref->actor ? ref->actor : "", (long long)window_s);
		if (!json_is_object(d)) {
			json_decref(d);
			d = json_object();
		}
		json_object_set_new(d, "count", json_integer(1));
	}
	if (!d && n_closed == 0)
		return 0;
	int rc = cp_db_begin(db);
	for (size_t i = 0; i < n_closed; i++) {
		if (rc == 0) {
			rc = write_summary(db, &closed[i]);
		} else {
			json_decref(closed[i].detail);
			json_decref(closed[i].actors);
			json_decref(closed[i].addrs);
		}
	}
	if (d && rc == 0)
		rc = cp_audit_append(db, ref->actor, ref->addr, ref->action, ref->target, d);
	else
		json_decref(d);
	if (rc == 0)
		rc = cp_db_commit(db);
	else
		cp_db_rollback(db);
	return rc;
}

/* Sleeps until the earliest window closes, writes what closed, and at stop everything. */
static void *
tally_thread(void *arg)
{
	(void)arg;
	struct cp_db *db = cp_db_open(tally.db_path);
	struct tally *closed = malloc(sizeof(*closed) * CP_AUDIT_TALLY_MAX);
	if (!db || !closed)
		tide_error("audit", "the refusal tally cannot write: its windows close at the next "
			"refusal instead");
	pthread_mutex_lock(&tally.mu);
	while (db && closed) {
		bool stop = tally.stopping;
		size_t n = take_closed(tide_wall_ms(), stop, closed, CP_AUDIT_TALLY_MAX);
		if (n) {
			pthread_mutex_unlock(&tally.mu);
			write_summaries(db, closed, n);
			pthread_mutex_lock(&tally.mu);
			continue; /* look again: more may have closed meanwhile */
		}
		if (stop)
			break;
		int64_t next = 0;
		for (int i = 0; i < CP_AUDIT_TALLY_MAX; i++)
			if (tally.slot[i].used && (!next || tally.slot[i].window_end < next))
				next = tally.slot[i].window_end;
		if (!next) {
			pthread_cond_wait(&tally.wake, &tally.mu);
			continue;
		}
		/* window ends are CLOCK_REALTIME milliseconds (tide_wall_ms), as the condition's clock */
		struct timespec ts = { .tv_sec = next / 1000, .tv_nsec = next % 1000 * 1000000 };
		pthread_cond_timedwait(&tally.wake, &tally.mu, &ts);
	}
	pthread_mutex_unlock(&tally.mu);
	free(closed);
	cp_db_close(db);
	return NULL;
}

int
cp_audit_tally_start(const char *db_path, int64_t window_ms)
{
	pthread_mutex_lock(&tally.mu);
	copy(tally.db_path, sizeof(tally.db_path), db_path);
	tally.window_ms = window_ms > 0 ? window_ms : 60000;
	tally.stopping = false;
	int rc = tally.running ? 0 : pthread_create(&tally.thread, NULL, tally_thread, NULL);
	if (rc == 0)
		tally.running = true;
	pthread_mutex_unlock(&tally.mu);
	if (rc)
		tide_error("audit", "cannot start the refusal tally's thread: %s", strerror(rc));
	return -rc;
}

void
cp_audit_tally_stop(void)
{
	pthread_mutex_lock(&tally.mu);
	bool running = tally.running;
	tally.stopping = true;
	pthread_cond_signal(&tally.wake);
	pthread_mutex_unlock(&tally.mu);
	if (running)
		pthread_join(tally.thread, NULL);
	pthread_mutex_lock(&tally.mu);
	tally.running = false;
	for (int i = 0; i < CP_AUDIT_TALLY_MAX; i++)
		if (tally.slot[i].used)
			release(&tally.slot[i]); /* the thread could not write them */
	pthread_mutex_unlock(&tally.mu);
}
