/* cp_drones.c — the drones' messages and the in-memory registry of online drones (see
 * cp_drones.h). The connections themselves belong to the drone listener (cp_drone_ws.c); this
 * file never touches a socket: it is handed complete messages and answers through the
 * transport's send function, which only queues.
 *
 * Locking: one mutex guards the registry (slots, live status, offline times) and is held while
 * a message is queued for a drone, so nothing is queued on a connection after
 * cp_drones_conn_close() has returned. Database work happens outside the lock, on the
 * listener thread's own database connection. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h> /* cp_drones_identify reads the upload request's header */

#include "cp_crypto.h"
#include "cp_db.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "cp_json.h"
#include "tide_log.h"

struct cp_drone_conn {
	bool used, authed;
	cp_drone_send_fn send;  /* the transport's queue */
	void *transport;
	char name[CP_DRONE_NAME_MAX + 1];
	int64_t id;
	char address[CP_ADDR_MAX];
	int64_t connected_ms;
	int64_t last_seen_write_ms;
	json_t *captures;   /* the last status's captures */
	json_t *links;      /* the hello's links, with their job_slots */
	struct cp_db *db;   /* the listener thread's */
};

struct away {
	char name[CP_DRONE_NAME_MAX + 1];
	int64_t since_ms;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct cp_drone_conn slots[CP_DRONES_MAX];
static struct away aways[CP_DRONES_MAX];
static int n_aways;
static int64_t started_ms;
static int upload_port;   /* the HTTP API's, where drones PUT files */
static bool upload_tls;

static const char sql_by_token[] = "SELECT id, name, tuning FROM drones WHERE token_hash = ?1";
static const char sql_hello[] =
	"UPDATE drones SET last_seen_at = ?2, version = ?3, hostname = ?4, address = ?5,"
	" host = ?6, links = ?7, applied = ?8 WHERE id = ?1";
static const char sql_seen[] = "UPDATE drones SET last_seen_at = ?2 WHERE id = ?1";
static const char sql_applied[] = "UPDATE drones SET applied = ?2 WHERE id = ?1";
static const char sql_live_counters[] =
	"UPDATE job_links SET counters = ?4 WHERE job_id = ?1 AND drone = ?2 AND link = ?3"
	" AND state IN ('running', 'finishing')";
static const char sql_file[] = "SELECT size, sha256 FROM job_files WHERE job_id = ?1 AND path = ?2";
static const char sql_ended[] =
	"UPDATE job_links SET state = ?4, reason = ?5, counters = ?6, ended_at = ?7"
	" WHERE job_id = ?1 AND drone = ?2 AND link = ?3"
	" AND state IN ('pending', 'running', 'finishing')";

int
cp_drones_new_token(char out[CP_DRONE_TOKEN_MAX], uint8_t hash[32])
{
	char secret[48];
	int rc = cp_random_b64(secret, sizeof(secret), 32);
	if (rc)
		return rc;
	snprintf(out, CP_DRONE_TOKEN_MAX, CP_DRONE_TOKEN_PREFIX "%s", secret);
	cp_sha256(out, strlen(out), hash);
	return 0;
}

bool
cp_drones_valid_name(const char *s)
{
	return s && tide_layout_name_ok(s, strlen(s));
}

/* under mu */
static struct cp_drone_conn *
find_online(const char *name)
{
	for (int i = 0; i < CP_DRONES_MAX; i++)
		if (slots[i].used && slots[i].authed && strcasecmp(slots[i].name, name) == 0)
			return &slots[i];
	return NULL;
}

/* under mu */
static void
set_away(const char *name, int64_t since)
{
	for (int i = 0; i < n_aways; i++)
		if (strcasecmp(aways[i].name, name) == 0) {
			aways[i].since_ms = since;
			return;
		}
	if (n_aways < CP_DRONES_MAX) {
		snprintf(aways[n_aways].name, sizeof(aways[n_aways].name), "%s", name);
		aways[n_aways++].since_ms = since;
	}
}

/* under mu */
static int
send_locked(struct cp_drone_conn *s, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int rc = text ? s->send(s->transport, text, strlen(text)) : -ENOMEM;
	free(text);
	return rc;
}

static int
send_to(struct cp_drone_conn *s, json_t *msg)
{
	pthread_mutex_lock(&mu);
	int rc = send_locked(s, msg);
	pthread_mutex_unlock(&mu);
	return rc;
}

int
cp_drones_send(const char *drone, json_t *msg)
{
	pthread_mutex_lock(&mu);
	struct cp_drone_conn *s = find_online(drone);
	int rc = s ? send_locked(s, msg) : -ENOTCONN;
	pthread_mutex_unlock(&mu);
	return rc;
}

bool
cp_drones_online(const char *drone, int64_t *offline_since_ms)
{
	pthread_mutex_lock(&mu);
	bool on = find_online(drone) != NULL;
	int64_t since = started_ms ? started_ms : tide_wall_ms();
	for (int i = 0; !on && i < n_aways; i++)
		if (strcasecmp(aways[i].name, drone) == 0)
			since = aways[i].since_ms;
	pthread_mutex_unlock(&mu);
	if (offline_since_ms)
		*offline_since_ms = on ? 0 : since;
	return on;
}

int
cp_drones_link_slots(const char *drone, const char *link)
{
	int n_slots = -1;
	pthread_mutex_lock(&mu);
	struct cp_drone_conn *s = find_online(drone);
	if (s) {
		size_t i;
		json_t *l;
		n_slots = 0;
		json_array_foreach(s->links, i, l) {
			if (strcmp(json_string_value(json_object_get(l, "name")) ?: "", link) != 0)
				continue;
			json_t *n = json_object_get(l, "job_slots");
			json_int_t v = json_integer_value(n);
			n_slots = !n ? 1 : v < 1 ? 1 : v > CP_DRONE_JOB_SLOTS_MAX ?
				CP_DRONE_JOB_SLOTS_MAX : (int)v;
		}
	}
	pthread_mutex_unlock(&mu);
	return n_slots;
}

json_t *
cp_drones_live(const char *drone)
{
	json_t *out = NULL;
	pthread_mutex_lock(&mu);
	struct cp_drone_conn *s = find_online(drone);
	if (s)
		out = json_pack("{s:s, s:I, s:O}", "address", s->address, "connected_at",
			(json_int_t)s->connected_ms, "captures",
			s->captures ? s->captures : json_array());
	pthread_mutex_unlock(&mu);
	return out;
}

/* ---- messages ---------------------------------------------------------------------------- */

#define UNAUTH_LOG_MS 10000

void
cp_drones_warn_stranger(const char *fmt, ...)
{
	static pthread_mutex_t lmu = PTHREAD_MUTEX_INITIALIZER;
	static int64_t logged_ms;
	static unsigned long unlogged;
	int64_t now = tide_wall_ms();
	pthread_mutex_lock(&lmu);
	unlogged++;
	bool now_ok = now - logged_ms >= UNAUTH_LOG_MS;
	unsigned long n = unlogged;
	if (now_ok) {
		logged_ms = now;
		unlogged = 0;
	}
	pthread_mutex_unlock(&lmu);
	if (!now_ok)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 1)
		tide_warn("drones", "%s (and %lu more refusals since the last such line)", msg,
			n - 1);
	else
		tide_warn("drones", "%s", msg);
}

static void
refuse(struct cp_drone_conn *s, const char *code, const char *message)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message",
		message);
	if (m)
		send_to(s, m);
	json_decref(m);
}

static int
hello(struct cp_drone_conn *s, json_t *m)
{
	const char *token = json_string_value(json_object_get(m, "token"));
	const char *name = json_string_value(json_object_get(m, "name"));
	if (!token || !name) {
		refuse(s, "bad_hello", "hello needs token and name");
		return 0;
	}
	uint8_t hash[32];
	cp_sha256(token, strlen(token), hash);
	sqlite3_stmt *st = cp_db_stmt(s->db, sql_by_token);
	if (!st)
		return 0;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	int64_t id = 0;
	char real[CP_DRONE_NAME_MAX + 1] = "";
	json_t *tuning = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		snprintf(real, sizeof(real), "%s", sqlite3_column_text(st, 1));
		tuning = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
	}
	sqlite3_reset(st);
	if (!id) {
		cp_drones_warn_stranger("refused a drone from %s: unknown token (claimed name '%.31s')",
			s->address, name);
		refuse(s, "bad_token", "unknown drone token");
		return 0;
	}
	if (strcasecmp(real, name) != 0) {
		json_decref(tuning);
		cp_drones_warn_stranger("refused a drone from %s: the token is %s's, it said '%.31s'",
			s->address, real, name);
		refuse(s, "bad_token", "this token belongs to another drone");
		return 0;
	}
	pthread_mutex_lock(&mu);
	bool already = find_online(real) != NULL;
	pthread_mutex_unlock(&mu);
	if (already) {
		json_decref(tuning);
		tide_warn("drones", "refused drone %s from %s: it is already connected", real,
			s->address);
		refuse(s, "already_connected", "this drone is already connected");
		return 0;
	}
	char *host = json_dumps(json_object_get(m, "host"), JSON_COMPACT);
	char *links = json_dumps(json_object_get(m, "links"), JSON_COMPACT);
	char *applied = json_dumps(json_object_get(m, "tuning"), JSON_COMPACT);
	const char *version = json_string_value(json_object_get(m, "version"));
	const char *hostname = json_string_value(json_object_get(m, "hostname"));
	st = cp_db_stmt(s->db, sql_hello);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, tide_wall_ms());
		sqlite3_bind_text(st, 3, version ? version : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, hostname ? hostname : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, s->address, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, host ? host : "{}", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, links ? links : "[]", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 8, applied ? applied : "{}", -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			tide_error("drones", "drone %s: cannot record its hello", real);
		sqlite3_reset(st);
	}
	free(host);
	free(links);
	free(applied);
	pthread_mutex_lock(&mu);
	bool twice = find_online(real) != NULL;
	if (!twice) {
		s->authed = true;
		s->id = id;
		snprintf(s->name, sizeof(s->name), "%s", real);
		json_decref(s->links);
		s->links = json_incref(json_object_get(m, "links"));
		if (!json_is_array(s->links)) {
			json_decref(s->links);
			s->links = json_array();
		}
		json_decref(s->captures);
		s->captures = json_incref(json_object_get(m, "captures"));
		if (!json_is_array(s->captures)) {
			json_decref(s->captures);
			s->captures = json_array();
		}
	}
	pthread_mutex_unlock(&mu);
	if (twice) {
		json_decref(tuning);
		tide_warn("drones", "refused drone %s from %s: it is already connected", real,
			s->address);
		refuse(s, "already_connected", "this drone is already connected");
		return 0;
	}
	json_t *w = json_pack("{s:s, s:s, s:o, s:i, s:b}", "type", "welcome", "name", real,
		"tuning", json_is_object(tuning) ? tuning : json_object(), "upload_port",
		upload_port, "upload_tls", upload_tls);
	send_to(s, w);
	json_decref(w);
	tide_info("drones", "drone %s online from %s (version %s, %zu links)", real, s->address,
		version ? version : "?", json_array_size(json_object_get(m, "links")));
	return 1;
}

static void
status(struct cp_drone_conn *s, json_t *m)
{
	json_t *caps = json_object_get(m, "captures");
	if (!json_is_array(caps))
		return;
	pthread_mutex_lock(&mu);
	json_decref(s->captures);
	s->captures = json_incref(caps);
	pthread_mutex_unlock(&mu);
	size_t i;
	json_t *c;
	json_array_foreach(caps, i, c) {
		const char *link = json_string_value(json_object_get(c, "link"));
		char *counters = json_dumps(json_object_get(c, "counters"), JSON_COMPACT);
		sqlite3_stmt *st = cp_db_stmt(s->db, sql_live_counters);
		if (st && link && counters) {
			sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(c, "job")));
			sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, link, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 4, counters, -1, SQLITE_TRANSIENT);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		free(counters);
	}
	int64_t now = tide_wall_ms();
	if (now - s->last_seen_write_ms > 10000) { /* last_seen_at to ~10 s is plenty */
		s->last_seen_write_ms = now;
		sqlite3_stmt *st = cp_db_stmt(s->db, sql_seen);
		if (st) {
			sqlite3_bind_int64(st, 1, s->id);
			sqlite3_bind_int64(st, 2, now);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
	}
}

/* Every file the drone says it sent must be in job_files with the same size and SHA-256
 * (computed by the Hive as it received it). The number that are not. */
static int
unverified(struct cp_drone_conn *s, int64_t job, json_t *files)
{
	int bad = 0;
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		sqlite3_stmt *st = cp_db_stmt(s->db, sql_file);
		bool ok = false;
		if (st && path && sha) {
			sqlite3_bind_int64(st, 1, job);
			sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(st) == SQLITE_ROW)
				ok = sqlite3_column_int64(st, 0) ==
					json_integer_value(json_object_get(f, "size")) &&
					strcmp((const char *)sqlite3_column_text(st, 1), sha) == 0;
			sqlite3_reset(st);
		}
		if (!ok) {
			tide_warn("drones", "job %lld: %s from drone %s does not match what was received",
				(long long)job, path ? path : "?", s->name);
			bad++;
		}
	}
	return bad;
}

/* Records a capture's end and acknowledges it. 0 when it could not be recorded: then there is
 * no ack, and the connection is closed so that the drone, reconnecting, repeats the ended (it
 * repeats unacknowledged ones at every hello) instead of freeing its spool copy. */
static int
ended(struct cp_drone_conn *s, json_t *m)
{
	int64_t job = json_integer_value(json_object_get(m, "job"));
	const char *link = json_string_value(json_object_get(m, "link"));
	const char *state = json_string_value(json_object_get(m, "state"));
	const char *reason = json_string_value(json_object_get(m, "reason"));
	if (job <= 0 || !link || !state || (strcmp(state, "done") && strcmp(state, "failed") &&
		strcmp(state, "cancelled")))
		return 1; /* not ours to judge: ignored, as unknown messages are */
	char why[512];
	snprintf(why, sizeof(why), "%s", reason ? reason : "");
	int bad = unverified(s, job, json_object_get(m, "files"));
	if (bad && strcmp(state, "cancelled") != 0) {
		state = "failed";
		snprintf(why, sizeof(why), "%d file(s) failed SHA-256 verification", bad);
	}
	json_t *counters = json_deep_copy(json_object_get(m, "counters"));
	if (!json_is_object(counters)) {
		json_decref(counters);
		counters = json_object();
	}
	json_object_set_new(counters, "files", json_integer((json_int_t)json_array_size(
		json_object_get(m, "files"))));
	char *text = json_dumps(counters, JSON_COMPACT);
	json_decref(counters);
	sqlite3_stmt *st = cp_db_stmt(s->db, sql_ended);
	bool recorded = false;
	if (st && text) {
		sqlite3_bind_int64(st, 1, job);
		sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, link, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, why, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 7, tide_wall_ms());
		recorded = sqlite3_step(st) == SQLITE_DONE;
		if (!recorded)
			tide_error("drones", "job %lld: cannot record the end of %s/%s: %s; the drone "
				"will repeat it", (long long)job, s->name, link,
				sqlite3_errmsg(cp_db_handle(s->db)));
		else if (cp_db_changes(s->db))
			tide_info("drones", "job %lld: %s/%s ended %s%s%s", (long long)job, s->name, link,
				state, why[0] ? ": " : "", why);
		sqlite3_reset(st);
	}
	free(text);
	if (!recorded)
		return 0;
	/* acknowledged once recorded (or already ended here): the drone frees its spool */
	json_t *ack = json_pack("{s:s, s:I, s:s}", "type", "ack", "job", (json_int_t)job, "link",
		link);
	send_to(s, ack);
	json_decref(ack);
	return 1;
}

static void
tuned(struct cp_drone_conn *s, json_t *m)
{
	char *applied = json_dumps(json_object_get(m, "tuning"), JSON_COMPACT);
	sqlite3_stmt *st = cp_db_stmt(s->db, sql_applied);
	if (st && applied) {
		sqlite3_bind_int64(st, 1, s->id);
		sqlite3_bind_text(st, 2, applied, -1, SQLITE_TRANSIENT);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	free(applied);
	tide_info("drones", "drone %s accepted new tuning (%s)", s->name,
		json_string_value(json_object_get(m, "applied")) ?: "");
}

/* ---- the transport's side ------------------------------------------------------------------ */

struct cp_drone_conn *
cp_drones_conn_open(const char *address, struct cp_db *db, cp_drone_send_fn send,
	void *transport)
{
	struct cp_drone_conn *s = NULL;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < CP_DRONES_MAX && !s; i++)
		if (!slots[i].used)
			s = &slots[i];
	if (s) {
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->send = send;
		s->transport = transport;
		s->db = db;
		s->connected_ms = tide_wall_ms();
		snprintf(s->address, sizeof(s->address), "%s", address);
	}
	pthread_mutex_unlock(&mu);
	if (!s)
		errno = EBUSY;
	return s;
}

bool
cp_drones_conn_authed(const struct cp_drone_conn *s)
{
	return s->authed;
}

int
cp_drones_conn_message(struct cp_drone_conn *s, const char *data, size_t len)
{
	json_error_t err;
	json_t *m = cp_json_parse(data, len, &err);
	const char *type = json_string_value(json_object_get(m, "type"));
	int keep = 1;
	if (!m) {
		if (s->authed) {
			tide_warn("drones", "drone %s: a message that is not JSON (%s)", s->name,
				err.text);
		} else {
			cp_drones_warn_stranger("refused a connection from %s: its hello is not JSON (%s)",
				s->address, err.text);
			refuse(s, "bad_hello", "say hello first, in JSON");
		}
		keep = s->authed;
	} else if (!type) {
		keep = s->authed;
	} else if (!s->authed) {
		keep = strcmp(type, "hello") == 0 ? hello(s, m) : 0;
		if (!keep && strcmp(type, "hello") != 0)
			refuse(s, "bad_hello", "say hello first");
	} else if (strcmp(type, "status") == 0) {
		status(s, m);
	} else if (strcmp(type, "ended") == 0) {
		keep = ended(s, m);
	} else if (strcmp(type, "tuned") == 0) {
		tuned(s, m);
	}
	json_decref(m);
	cp_db_reset_all(s->db);
	return keep;
}

void
cp_drones_conn_close(struct cp_drone_conn *s)
{
	pthread_mutex_lock(&mu);
	if (s->authed) {
		set_away(s->name, tide_wall_ms());
		tide_warn("drones", "drone %s offline (connection from %s closed)", s->name,
			s->address);
	}
	json_decref(s->captures);
	json_decref(s->links);
	memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&mu);
}

void
cp_drones_init(int http_port, bool https)
{
	pthread_mutex_lock(&mu);
	started_ms = tide_wall_ms();
	upload_port = http_port;
	upload_tls = https;
	pthread_mutex_unlock(&mu);
}

int
cp_drones_identify(struct cp_req *r)
{
	const char *auth = mg_get_header(r->conn, "Authorization");
	static const char bearer[] = "Bearer ";
	if (!auth)
		return -ENOENT;
	if (strncmp(auth, bearer, sizeof(bearer) - 1) != 0)
		return -EACCES;
	const char *token = auth + sizeof(bearer) - 1;
	if (strncmp(token, CP_DRONE_TOKEN_PREFIX, sizeof(CP_DRONE_TOKEN_PREFIX) - 1) != 0)
		return -EACCES;
	uint8_t hash[32];
	cp_sha256(token, strlen(token), hash);
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_by_token);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->drone_id = sqlite3_column_int64(st, 0);
		snprintf(r->drone, sizeof(r->drone), "%s", sqlite3_column_text(st, 1));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -EACCES : cp_db_errno(rc);
}
