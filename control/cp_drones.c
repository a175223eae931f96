/* cp_drones.c — drone connections (see cp_drones.h): the WebSocket handlers, the in-memory
 * registry of online drones, and the messages that drones send.
 *
 * Locking: one mutex guards the registry (slots, live status, offline times). Writes to a
 * drone's socket happen under it too, so a connection is never written after its close
 * handler has run (civetweb frees it after that). Database work happens outside the lock,
 * on the connection thread's own database connection. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "cp_crypto.h"
#include "cp_db.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "cp_log.h"

struct slot {
	bool used, authed;
	struct mg_connection *conn;
	char name[CP_DRONE_NAME_MAX + 1];
	int64_t id;
	char address[CP_ADDR_MAX];
	int64_t connected_ms;
	json_t *captures;   /* the last status's captures */
	struct cp_db *db;   /* the connection thread's */
};

struct away {
	char name[CP_DRONE_NAME_MAX + 1];
	int64_t since_ms;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[CP_DRONES_MAX];
static struct away aways[CP_DRONES_MAX];
static int n_aways;
static int64_t started_ms;
static const struct cp_server *server;

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
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > CP_DRONE_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

/* under mu */
static struct slot *
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

static int
send_locked(struct slot *s, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int rc = -ENOMEM;
	if (text)
		rc = mg_websocket_write(s->conn, MG_WEBSOCKET_OPCODE_TEXT, text, strlen(text)) > 0 ?
			0 : -EIO;
	free(text);
	return rc;
}

int
cp_drones_send(const char *drone, json_t *msg)
{
	pthread_mutex_lock(&mu);
	struct slot *s = find_online(drone);
	int rc = s ? send_locked(s, msg) : -ENOTCONN;
	pthread_mutex_unlock(&mu);
	return rc;
}

bool
cp_drones_online(const char *drone, int64_t *offline_since_ms)
{
	pthread_mutex_lock(&mu);
	bool on = find_online(drone) != NULL;
	int64_t since = started_ms ? started_ms : cp_now_ms();
	for (int i = 0; !on && i < n_aways; i++)
		if (strcasecmp(aways[i].name, drone) == 0)
			since = aways[i].since_ms;
	pthread_mutex_unlock(&mu);
	if (offline_since_ms)
		*offline_since_ms = on ? 0 : since;
	return on;
}

json_t *
cp_drones_live(const char *drone)
{
	json_t *out = NULL;
	pthread_mutex_lock(&mu);
	struct slot *s = find_online(drone);
	if (s)
		out = json_pack("{s:s, s:I, s:O}", "address", s->address, "connected_at",
			(json_int_t)s->connected_ms, "captures",
			s->captures ? s->captures : json_array());
	pthread_mutex_unlock(&mu);
	return out;
}

/* ---- messages ---------------------------------------------------------------------------- */

static void
refuse(struct mg_connection *conn, const char *code, const char *message)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message",
		message);
	char *text = json_dumps(m, JSON_COMPACT);
	if (text)
		mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_TEXT, text, strlen(text));
	free(text);
	json_decref(m);
}

static int
hello(struct slot *s, json_t *m)
{
	const char *token = json_string_value(json_object_get(m, "token"));
	const char *name = json_string_value(json_object_get(m, "name"));
	if (!token || !name) {
		refuse(s->conn, "bad_hello", "hello needs token and name");
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
		cp_warn("drones", "refused a drone from %s: unknown token (claimed name '%.31s')",
			s->address, name);
		refuse(s->conn, "bad_token", "unknown drone token");
		return 0;
	}
	if (strcasecmp(real, name) != 0) {
		json_decref(tuning);
		cp_warn("drones", "refused a drone from %s: the token is %s's, it said '%.31s'",
			s->address, real, name);
		refuse(s->conn, "bad_token", "this token belongs to another drone");
		return 0;
	}
	pthread_mutex_lock(&mu);
	bool already = find_online(real) != NULL;
	pthread_mutex_unlock(&mu);
	if (already) {
		json_decref(tuning);
		cp_warn("drones", "refused drone %s from %s: it is already connected", real,
			s->address);
		refuse(s->conn, "already_connected", "this drone is already connected");
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
		sqlite3_bind_int64(st, 2, cp_now_ms());
		sqlite3_bind_text(st, 3, version ? version : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, hostname ? hostname : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, s->address, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, host ? host : "{}", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, links ? links : "[]", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 8, applied ? applied : "{}", -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			cp_error("drones", "drone %s: cannot record its hello", real);
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
		cp_warn("drones", "refused drone %s from %s: it is already connected", real,
			s->address);
		refuse(s->conn, "already_connected", "this drone is already connected");
		return 0;
	}
	json_t *w = json_pack("{s:s, s:s, s:o}", "type", "welcome", "name", real, "tuning",
		json_is_object(tuning) ? tuning : json_object());
	pthread_mutex_lock(&mu);
	send_locked(s, w);
	pthread_mutex_unlock(&mu);
	json_decref(w);
	cp_info("drones", "drone %s online from %s (version %s, %zu links)", real, s->address,
		version ? version : "?", json_array_size(json_object_get(m, "links")));
	return 1;
}

static void
status(struct slot *s, json_t *m)
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
	static __thread int64_t last_seen_write;
	int64_t now = cp_now_ms();
	if (now - last_seen_write > 10000) { /* last_seen_at to ~10 s is plenty */
		last_seen_write = now;
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
unverified(struct slot *s, int64_t job, json_t *files)
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
			cp_warn("drones", "job %lld: %s from drone %s does not match what was received",
				(long long)job, path ? path : "?", s->name);
			bad++;
		}
	}
	return bad;
}

static void
ended(struct slot *s, json_t *m)
{
	int64_t job = json_integer_value(json_object_get(m, "job"));
	const char *link = json_string_value(json_object_get(m, "link"));
	const char *state = json_string_value(json_object_get(m, "state"));
	const char *reason = json_string_value(json_object_get(m, "reason"));
	if (job <= 0 || !link || !state || (strcmp(state, "done") && strcmp(state, "failed") &&
		strcmp(state, "cancelled")))
		return;
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
	if (st && text) {
		sqlite3_bind_int64(st, 1, job);
		sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, link, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, why, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 7, cp_now_ms());
		if (sqlite3_step(st) != SQLITE_DONE)
			cp_error("drones", "job %lld: cannot record the end of %s/%s", (long long)job,
				s->name, link);
		else if (cp_db_changes(s->db))
			cp_info("drones", "job %lld: %s/%s ended %s%s%s", (long long)job, s->name, link,
				state, why[0] ? ": " : "", why);
		sqlite3_reset(st);
	}
	free(text);
	/* acknowledged once recorded (or already ended here): the drone frees its spool */
	json_t *ack = json_pack("{s:s, s:I, s:s}", "type", "ack", "job", (json_int_t)job, "link",
		link);
	pthread_mutex_lock(&mu);
	send_locked(s, ack);
	pthread_mutex_unlock(&mu);
	json_decref(ack);
}

static void
tuned(struct slot *s, json_t *m)
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
	cp_info("drones", "drone %s accepted new tuning (%s)", s->name,
		json_string_value(json_object_get(m, "applied")) ?: "");
}

/* ---- civetweb's WebSocket callbacks --------------------------------------------------------- */

static int
ws_connect(const struct mg_connection *conn, void *cbdata)
{
	(void)conn;
	(void)cbdata;
	return 0; /* accept; the hello authenticates */
}

static void
ws_ready(struct mg_connection *conn, void *cbdata)
{
	(void)cbdata;
	struct slot *s = NULL;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < CP_DRONES_MAX && !s; i++)
		if (!slots[i].used)
			s = &slots[i];
	if (s) {
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->conn = conn;
		s->connected_ms = cp_now_ms();
		snprintf(s->address, sizeof(s->address), "%s", mg_get_request_info(conn)->remote_addr);
	}
	pthread_mutex_unlock(&mu);
	if (!s) {
		refuse(conn, "busy", "too many drones");
		return;
	}
	s->db = cp_db_open(server->db_path);
	mg_set_user_connection_data(conn, s);
}

static int
ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
	(void)cbdata;
	struct slot *s = mg_get_user_connection_data(conn);
	int opcode = bits & 0xf;
	if (!s || !s->db)
		return 0;
	if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
		return 0;
	if (opcode != MG_WEBSOCKET_OPCODE_TEXT || !(bits & 0x80))
		return 1; /* pings are answered by civetweb; fragments are not part of the protocol */
	json_t *m = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));
	int keep = 1;
	if (!type) {
		keep = s->authed;
	} else if (!s->authed) {
		keep = strcmp(type, "hello") == 0 ? hello(s, m) : 0;
		if (!keep && strcmp(type, "hello") != 0)
			refuse(conn, "bad_hello", "say hello first");
	} else if (strcmp(type, "status") == 0) {
		status(s, m);
	} else if (strcmp(type, "ended") == 0) {
		ended(s, m);
	} else if (strcmp(type, "tuned") == 0) {
		tuned(s, m);
	}
	json_decref(m);
	cp_db_reset_all(s->db);
	if (!s->authed && s->connected_ms + CP_DRONES_HELLO_MS < cp_now_ms())
		keep = 0;
	return keep;
}

static void
ws_close(const struct mg_connection *conn, void *cbdata)
{
	(void)cbdata;
	struct slot *s = mg_get_user_connection_data(conn);
	if (!s)
		return;
	struct cp_db *db;
	pthread_mutex_lock(&mu);
	if (s->authed) {
		set_away(s->name, cp_now_ms());
		cp_warn("drones", "drone %s offline (connection from %s closed)", s->name,
			s->address);
	}
	db = s->db;
	json_decref(s->captures);
	memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&mu);
	cp_db_close(db);
}

int
cp_drones_start(struct cp_server *srv)
{
	server = srv;
	started_ms = cp_now_ms();
	mg_set_websocket_handler(srv->mg, CP_DRONES_WS_PATH, ws_connect, ws_ready, ws_data,
		ws_close, NULL);
	return 0;
}

void
cp_drones_stop(void)
{
	/* civetweb has closed every connection (mg_stop) and called ws_close for each */
	pthread_mutex_lock(&mu);
	for (int i = 0; i < CP_DRONES_MAX; i++)
		if (slots[i].used) {
			json_decref(slots[i].captures);
			slots[i].captures = NULL;
		}
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
