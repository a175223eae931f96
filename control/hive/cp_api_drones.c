/* cp_api_drones.c — drones, their links and tuning (REST). The drones' upload route is in
 * cp_api_uploads.c.
 *
 * Anyone who may read jobs sees drones and links (a job form offers them); registering a drone,
 * rotating its token and tuning it need drones.admin. A drone token (tided_…) is shown once and
 * stored as its SHA-256, like application tokens.
 *
 * Tuning is validated against the tuning keys of the contract (tide_tuning.h: kinds and bounds,
 * 400) and against what the drone reported of its host at its last hello — cores, NUMA nodes,
 * hugepages and each link's RX queue limit — so a value the drone cannot honour is refused here
 * with the limit in the message (422 invalid_tuning), never discovered at the next capture.
 * Accepted tuning is stored, sent to the drone if it is online (it persists it and applies it
 * at the next capture on each link: every capture is a new DPDK process), and audited.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <civetweb.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>

#include "cp_api.h"
#include "cp_audit.h"
#include "cp_crypto.h"
#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "tide_log.h"
#include "cp_options.h"
#include "cp_routes.h"
#include "tide_tuning.h"

static const char sql_drones[] =
	"SELECT id, name, builtin, created_at, last_seen_at, version, hostname, address, host,"
	" links, tuning, applied FROM drones ORDER BY name";
static const char sql_drone[] =
	"SELECT id, name, builtin, created_at, last_seen_at, version, hostname, address, host,"
	" links, tuning, applied FROM drones WHERE id = ?1";
static const char sql_insert[] =
	"INSERT INTO drones (name, token_hash, created_at) VALUES (?1, ?2, ?3)";
static const char sql_token[] = "UPDATE drones SET token_hash = ?2 WHERE id = ?1";
static const char sql_delete[] = "DELETE FROM drones WHERE id = ?1 AND builtin = 0";
static const char sql_set_tuning[] = "UPDATE drones SET tuning = ?2 WHERE id = ?1";

/* ---- drones as JSON ------------------------------------------------------------------------- */

/* live counters of the capture on (drone, link), from the drone's last status */
static json_t *
link_live(json_t *live, const char *link, json_t **job)
{
	size_t i;
	json_t *c;
	*job = json_null();
	json_array_foreach(json_object_get(live, "captures"), i, c) {
		const char *state = json_string_value(json_object_get(c, "state"));
		if (strcmp(json_string_value(json_object_get(c, "link")) ?: "", link) == 0 && state &&
			(!strcmp(state, "running") || !strcmp(state, "finishing"))) {
			*job = json_incref(json_object_get(c, "job"));
			return json_incref(json_object_get(c, "counters"));
		}
	}
	return NULL;
}

/* Per-link rates from the previous look at the same counters (one process-wide memory). */
static void
add_rates(const char *drone, const char *link, json_t *counters)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		char key[96];
		int64_t at_ms, packets, bytes, drops;
		double pps, bps, dps;
	} seen[512];
	char key[96];
	snprintf(key, sizeof(key), "%s/%s", drone, link);
	int64_t now = tide_wall_ms();
	int64_t p = json_integer_value(json_object_get(counters, "received"));
	int64_t b = json_integer_value(json_object_get(counters, "rx_bytes"));
	int64_t d = json_integer_value(json_object_get(counters, "drops"));
	pthread_mutex_lock(&mu);
	int slot = -1, free_slot = -1;
	for (int i = 0; i < 512 && slot < 0; i++) {
		if (!strcmp(seen[i].key, key))
			slot = i;
		else if (free_slot < 0 && !seen[i].key[0])
			free_slot = i;
	}
	if (slot < 0)
		slot = free_slot >= 0 ? free_slot : (int)(now % 512);
	if (strcmp(seen[slot].key, key) || p < seen[slot].packets) {
		snprintf(seen[slot].key, sizeof(seen[slot].key), "%s", key);
		seen[slot].pps = seen[slot].bps = seen[slot].dps = 0;
	} else if (now - seen[slot].at_ms >= 500) {
		double dt = (double)(now - seen[slot].at_ms) / 1000.0;
		seen[slot].pps = (double)(p - seen[slot].packets) / dt;
		seen[slot].bps = (double)(b - seen[slot].bytes) * 8.0 / dt;
		seen[slot].dps = (double)(d - seen[slot].drops) / dt;
	} else {
		goto keep;
	}
	seen[slot].at_ms = now;
	seen[slot].packets = p;
	seen[slot].bytes = b;
	seen[slot].drops = d;
keep:
	json_object_set_new(counters, "pps", json_real(seen[slot].pps));
	json_object_set_new(counters, "bps", json_real(seen[slot].bps));
	json_object_set_new(counters, "drops_per_s", json_real(seen[slot].dps));
	pthread_mutex_unlock(&mu);
}

static json_t *
zero_counters(void)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:{}}", "packets", 0, "bytes", 0, "received", 0,
		"rx_bytes", 0, "drops", 0, "drops_by_reason");
}

/* The drone's links with live state. New reference. */
static json_t *
links_json(const char *drone, json_t *reported, json_t *live)
{
	json_t *out = json_array();
	size_t i;
	json_t *l;
	json_array_foreach(reported, i, l) {
		const char *name = json_string_value(json_object_get(l, "name"));
		if (!name)
			continue;
		json_t *job;
		json_t *counters = live ? link_live(live, name, &job) : NULL;
		if (!live)
			job = json_null();
		if (!counters)
			counters = zero_counters();
		else
			add_rates(drone, name, counters);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o}", "drone", drone, "name",
			name, "device", json_string_value(json_object_get(l, "device")) ?: "", "state",
			live ? "online" : "offline", "busy", !json_is_null(job), "job", job, "counters",
			counters);
		/* defaults for what a drone did not report (new references, not leaked) */
		json_t *v;
		json_object_set_new(o, "driver", (v = json_object_get(l, "driver")) ?
			json_incref(v) : json_string(""));
		json_object_set_new(o, "max_rx_queues", (v = json_object_get(l, "max_rx_queues")) ?
			json_incref(v) : json_integer(1));
		json_object_set_new(o, "numa_node", (v = json_object_get(l, "numa_node")) ?
			json_incref(v) : json_integer(-1));
		json_array_append_new(out, o);
	}
	return out;
}

static json_t *
drone_row_json(sqlite3_stmt *st)
{
#define T(i) ((const char *)sqlite3_column_text(st, i))
	const char *name = T(1);
	json_t *live = cp_drones_live(name);
	json_t *host = json_loads(T(8), 0, NULL), *links = json_loads(T(9), 0, NULL);
	json_t *tuning = json_loads(T(10), 0, NULL), *applied = json_loads(T(11), 0, NULL);
	json_t *j = json_pack("{s:I, s:s, s:b, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
		"id", (json_int_t)sqlite3_column_int64(st, 0), "name", name, "builtin",
		sqlite3_column_int(st, 2), "state", live ? "online" : "offline", "version", T(5),
		"hostname", T(6), "address", T(7), "created_at",
		cp_api_time(sqlite3_column_int64(st, 3)), "last_seen_at",
		cp_api_time(sqlite3_column_int64(st, 4)), "host",
		json_is_object(host) ? host : json_object(), "tuning",
		json_is_object(tuning) ? tuning : json_object(), "applied",
		json_is_object(applied) ? applied : json_object(), "links",
		links_json(name, links, live));
	json_object_set_new(j, "connected_at", live ? cp_api_time(json_integer_value(
		json_object_get(live, "connected_at"))) : json_null());
	json_decref(links);
	json_decref(live);
	return j;
#undef T
}

static int
get_drones(struct cp_req *r)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_drones);
	if (!st)
		return cp_fail_errno(r, -EIO, "listing drones");
	json_t *items = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(items, drone_row_json(st));
	sqlite3_reset(st);
	return cp_reply(r, 200, json_pack("{s:o}", "items", items));
}

static json_t *
load_drone(struct cp_req *r, int64_t *id)
{
	*id = cp_param_id(r, 0);
	if (*id < 0)
		return NULL;
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_drone);
	if (!st) {
		cp_fail_errno(r, -EIO, "reading the drone");
		return NULL;
	}
	sqlite3_bind_int64(st, 1, *id);
	json_t *j = sqlite3_step(st) == SQLITE_ROW ? drone_row_json(st) : NULL;
	sqlite3_reset(st);
	if (!j)
		cp_fail(r, 404, "not_found", "no such drone");
	return j;
}

static int
get_drone(struct cp_req *r)
{
	int64_t id;
	json_t *j = load_drone(r, &id);
	return j ? cp_reply(r, 200, j) : r->status;
}

static int
get_links(struct cp_req *r)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_drones);
	if (!st)
		return cp_fail_errno(r, -EIO, "listing links");
	json_t *items = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *d = drone_row_json(st);
		json_array_extend(items, json_object_get(d, "links"));
		json_decref(d);
	}
	sqlite3_reset(st);
	return cp_reply(r, 200, json_pack("{s:o}", "items", items));
}

/* ---- registration and tokens --------------------------------------------------------------- */

static int
post_drone(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "name", CP_FIELD_STRING, true, 1, CP_DRONE_NAME_MAX },
	};
	if (cp_check_body(r, fields, 1))
		return r->status;
	const char *name = json_string_value(json_object_get(r->body, "name"));
	if (!cp_drones_valid_name(name))
		return cp_fail(r, 400, "invalid_field", "'name': 1-%d of a-z A-Z 0-9 . _ -, not "
			"starting with . or -", CP_DRONE_NAME_MAX);
	char token[CP_DRONE_TOKEN_MAX];
	uint8_t hash[32];
	int rc = cp_drones_new_token(token, hash);
	if (rc == 0)
		rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "registering the drone");
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_insert);
	int s = SQLITE_ERROR;
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 2, hash, sizeof(hash), SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, tide_wall_ms());
		s = sqlite3_step(st);
		sqlite3_reset(st);
	}
	rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
	int64_t id = rc ? 0 : cp_db_last_id(r->db);
	char target[64];
	snprintf(target, sizeof(target), "drone:%s", name);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_DRONE_CREATE, target, NULL);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc == -EEXIST)
		return cp_fail(r, 409, "exists", "a drone named '%s' exists", name);
	if (rc)
		return cp_fail_errno(r, rc, "registering the drone");
	json_t *j = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name", name, "token",
		token);
	sodium_memzero(token, sizeof(token));
	return cp_reply(r, 201, j);
}

static int
post_drone_token(struct cp_req *r)
{
	int64_t id;
	json_t *d = load_drone(r, &id);
	if (!d)
		return r->status;
	char token[CP_DRONE_TOKEN_MAX], target[64];
	uint8_t hash[32];
	snprintf(target, sizeof(target), "drone:%s", json_string_value(json_object_get(d, "name")));
	if (json_is_true(json_object_get(d, "builtin"))) {
		json_decref(d);
		return cp_fail(r, 409, "builtin", "the local drone's token is made at every start");
	}
	int rc = cp_drones_new_token(token, hash);
	if (rc == 0)
		rc = cp_db_begin(r->db);
	if (rc) {
		json_decref(d);
		return cp_fail_errno(r, rc, "issuing a token");
	}
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_token);
	int s = SQLITE_ERROR;
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_blob(st, 2, hash, sizeof(hash), SQLITE_STATIC);
		s = sqlite3_step(st);
		sqlite3_reset(st);
	}
	rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_DRONE_TOKEN, target, NULL);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc) {
		json_decref(d);
		return cp_fail_errno(r, rc, "issuing a token");
	}
	json_t *j = json_pack("{s:I, s:O, s:s}", "id", (json_int_t)id, "name",
		json_object_get(d, "name"), "token", token);
	sodium_memzero(token, sizeof(token));
	json_decref(d);
	return cp_reply(r, 200, j);
}

static int
delete_drone(struct cp_req *r)
{
	int64_t id;
	json_t *d = load_drone(r, &id);
	if (!d)
		return r->status;
	char target[64];
	snprintf(target, sizeof(target), "drone:%s", json_string_value(json_object_get(d, "name")));
	bool builtin = json_is_true(json_object_get(d, "builtin"));
	json_decref(d);
	if (builtin)
		return cp_fail(r, 409, "builtin", "the local drone cannot be deleted");
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "deleting the drone");
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_delete);
	int s = SQLITE_ERROR;
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		s = sqlite3_step(st);
		sqlite3_reset(st);
	}
	rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_DRONE_DELETE, target, NULL);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	return rc ? cp_fail_errno(r, rc, "deleting the drone") : cp_reply(r, 204, NULL);
}

/* ---- tuning ----------------------------------------------------------------------------------- */

/* What the drone's host allows, from its last hello; NULL when it never said. */
/* The drone host's limits as it last reported them (NULL before it ever connected), with the
 * bounds of the keys no host changes (tide_tuning.h) under the names clients read. */
static json_t *
limits_of(json_t *d)
{
	json_t *host = json_object_get(d, "host");
	if (!json_integer_value(json_object_get(host, "cores")))
		return NULL;
	json_int_t maxq = 0;
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(d, "links"), i, l) {
		json_int_t q = json_integer_value(json_object_get(l, "max_rx_queues"));
		if (q > 0 && (maxq == 0 || q < maxq))
			maxq = q;
	}
	json_t *numa = json_object_get(host, "numa_nodes");
	const struct tide_tuning_key *desc = tide_tuning_find("rx_desc");
	return json_pack("{s:O, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cores",
		json_object_get(host, "cores"), "numa_nodes", numa ? json_integer_value(numa) :
		(json_int_t)1, "max_rx_queues", maxq ? maxq : 1, "hugepages_total",
		json_integer_value(json_object_get(host, "hugepages_total")), "max_burst",
		(json_int_t)tide_tuning_find("burst")->max, "min_desc", (json_int_t)desc->min,
		"max_desc", (json_int_t)desc->max, "max_mempool_size",
		(json_int_t)tide_tuning_find("mempool_size")->max);
}

static int
tuning_reply(struct cp_req *r, json_t *d, int status)
{
	json_t *limits = limits_of(d);
	json_t *j = json_pack("{s:O, s:O, s:O, s:o, s:O}", "drone", json_object_get(d, "name"),
		"tuning", json_object_get(d, "tuning"), "applied", json_object_get(d, "applied"),
		"limits", limits ? limits : json_null(), "state", json_object_get(d, "state"));
	json_decref(d);
	return cp_reply(r, status, j);
}

static int
get_tuning(struct cp_req *r)
{
	int64_t id;
	json_t *d = load_drone(r, &id);
	return d ? tuning_reply(r, d, 200) : r->status;
}

/* The body against the tuning keys (tide_tuning.h): every member a key, of its kind and within
 * its bounds, refused in cp_check_body's words (400). A descriptor count that is no power of
 * two is left to host_refusal, which answers it as the ports' limit it is (422). 0, or -1
 * after answering. */
static int
check_tuning_body(struct cp_req *r)
{
	if (!json_is_object(r->body))
		return cp_fail(r, 400, "invalid_body", "the request body must be a JSON object"), -1;
	const char *key;
	json_t *v;
	json_object_foreach(r->body, key, v)
		if (!tide_tuning_find(key))
			return cp_fail(r, 400, "unknown_field", "unknown field '%.64s'", key), -1;
	for (size_t i = 0; i < tide_tuning_count; i++) {
		const struct tide_tuning_key *k = &tide_tuning_keys[i];
		char why[96];
		v = json_object_get(r->body, k->name);
		if (v && tide_tuning_check(k, v, why, sizeof(why)) == -EINVAL)
			return cp_fail(r, 400, "invalid_field", "'%s' %s", k->name, why), -1;
	}
	return 0;
}

/* Why the drone's host cannot run the tuning t (body: the keys just asked for), "" when it
 * can; absent keys count with the drone's defaults. */
static void
host_refusal(json_t *t, json_t *body, json_t *limits, char *why, size_t size)
{
#define LIM(k) json_integer_value(json_object_get(limits, k))
	int64_t cores = LIM("cores"), workers = tide_tuning_int(t, "workers");
	int64_t writers = tide_tuning_int(t, "writer_cores"), node = tide_tuning_int(t, "numa_node");
	int64_t queues = tide_tuning_int(t, "rx_queues");
	why[0] = '\0';
	if (workers + 1 > cores && cores > 1) {
		snprintf(why, size, "workers: %lld needs %lld cores with the main one; the drone "
			"has %lld", (long long)workers, (long long)workers + 1, (long long)cores);
		return;
	}
	if (json_object_get(t, "rx_queues") && queues > LIM("max_rx_queues")) {
		snprintf(why, size, "rx_queues: %lld is more than the drone's links allow (%lld)",
			(long long)queues, (long long)LIM("max_rx_queues"));
		return;
	}
	for (size_t i = 0; i < tide_tuning_count; i++) {
		const struct tide_tuning_key *k = &tide_tuning_keys[i];
		json_t *v = json_object_get(t, k->name);
		if (k->kind == TIDE_TUNING_POW2 && v && tide_tuning_check(k, v, NULL, 0) == -EDOM) {
			snprintf(why, size, "%s: %lld is not a power of two", k->name,
				(long long)json_integer_value(v));
			return;
		}
	}
	if (workers + writers > cores)
		snprintf(why, size, "writer_cores: %lld with %lld workers is more than the drone's "
			"%lld cores", (long long)writers, (long long)workers, (long long)cores);
	else if (node >= LIM("numa_nodes"))
		snprintf(why, size, "numa_node: %lld, but the drone has %lld NUMA node(s)",
			(long long)node, (long long)LIM("numa_nodes"));
	else if (json_is_true(json_object_get(body, "hugepages")) && LIM("hugepages_total") == 0)
		snprintf(why, size, "hugepages: the drone has no hugepages reserved");
#undef LIM
}

static int
put_tuning(struct cp_req *r)
{
	if (check_tuning_body(r))
		return r->status;
	int64_t id;
	json_t *d = load_drone(r, &id);
	if (!d)
		return r->status;
	json_t *limits = limits_of(d);
	if (!limits) {
		json_decref(d);
		return cp_fail(r, 409, "drone_unknown", "the drone has not connected yet: its "
			"host's limits are unknown");
	}
	json_t *t = json_deep_copy(json_object_get(d, "tuning"));
	json_object_update(t, r->body);
	char why[256];
	host_refusal(t, r->body, limits, why, sizeof(why));
	json_decref(limits);
	if (why[0]) {
		json_decref(t);
		json_decref(d);
		return cp_fail(r, 422, "invalid_tuning", "%s", why);
	}
	char *text = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
	char target[64];
	snprintf(target, sizeof(target), "drone:%s", json_string_value(json_object_get(d, "name")));
	int rc = text ? cp_db_begin(r->db) : -ENOMEM;
	if (rc == 0) {
		sqlite3_stmt *st = cp_db_stmt(r->db, sql_set_tuning);
		int s = SQLITE_ERROR;
		if (st) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
			s = sqlite3_step(st);
			sqlite3_reset(st);
		}
		rc = s == SQLITE_DONE ? 0 : cp_db_errno(s);
		if (rc == 0)
			rc = cp_audit(r, CP_AUDIT_DRONE_TUNE, target, json_pack("{s:O, s:O}", "from",
				json_object_get(d, "tuning"), "to", t));
		if (rc == 0)
			rc = cp_db_commit(r->db);
		else
			cp_db_rollback(r->db);
	}
	free(text);
	if (rc) {
		json_decref(t);
		json_decref(d);
		return cp_fail_errno(r, rc, "saving the tuning");
	}
	json_t *m = json_pack("{s:s, s:O}", "type", "tune", "tuning", t);
	cp_drones_send(json_string_value(json_object_get(d, "name")), m);
	json_decref(m);
	json_object_set_new(d, "tuning", t);
	return tuning_reply(r, d, 200);
}

CP_ROUTE_TABLE(cp_api_drones_routes,
	{ "GET", "/api/v1/drones", CP_PERM_JOBS_READ, get_drones },
	{ "POST", "/api/v1/drones", CP_PERM_DRONES_ADMIN, post_drone },
	{ "GET", "/api/v1/drones/{id}", CP_PERM_JOBS_READ, get_drone },
	{ "DELETE", "/api/v1/drones/{id}", CP_PERM_DRONES_ADMIN, delete_drone },
	{ "POST", "/api/v1/drones/{id}/token", CP_PERM_DRONES_ADMIN, post_drone_token },
	{ "GET", "/api/v1/drones/{id}/tuning", CP_PERM_DRONES_ADMIN, get_tuning },
	{ "PUT", "/api/v1/drones/{id}/tuning", CP_PERM_DRONES_ADMIN, put_tuning },
	{ "GET", "/api/v1/links", CP_PERM_JOBS_READ, get_links },
);
