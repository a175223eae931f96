/* fuzz_cp_drone_msg.c — libFuzzer target for the Hive's drone-message handler
 * (control/hive/cp_drones.c: cp_drones_conn_message), the code every byte a drone — or anyone who
 * reaches the drone port — sends ends up in, after the listener has assembled a message.
 *
 * The input is a connection's life: bit 0 of the first byte says whether it starts with a good
 * hello (so status/ended/tuned are reached as an authenticated drone), the rest is split on
 * '\n' into messages. The database is a real one (schema migrated, a drone "probe1" with a known
 * token, job 1 running on probe1/p1), in /dev/shm with synchronous off for speed. Beyond "no
 * crash": what the handler queues is always a JSON object with a "type", and once the
 * connection is closed the drone is offline. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cp_crypto.h"
#include "cp_db.h"
#include "cp_drones.h"
#include "tide_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "tided_fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuz"

static int
sent(void *transport, const char *text, size_t len)
{
	(void)transport;
	json_t *m = json_loadb(text, len, 0, NULL);
	if (!json_is_object(m) || !json_is_string(json_object_get(m, "type")))
		abort(); /* the Hive only ever sends typed JSON objects */
	json_decref(m);
	return 0;
}

static struct cp_db *
setup(void)
{
	char path[] = "/dev/shm/fuzz-cp-drone-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	unlink(path);
	struct cp_db *db = cp_db_open(path);
	if (!db || cp_db_exec(db, "PRAGMA synchronous = OFF") || cp_db_migrate(db, 0) < 0)
		abort();
	uint8_t hash[32];
	cp_sha256(TOKEN, strlen(TOKEN), hash);
	sqlite3_stmt *st = cp_db_stmt(db,
		"INSERT INTO drones (name, token_hash, created_at) VALUES ('probe1', ?1, 0)");
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		abort();
	sqlite3_reset(st);
	if (cp_db_exec(db, "INSERT INTO jobs (name, owner_id, owner, max_size, max_duration, link,"
		" created_at, state) VALUES ('j', 1, 'admin', 1000000, 60, 'p1', 0, 'running');"
		"INSERT INTO job_links (job_id, drone, link, state) VALUES (1, 'probe1', 'p1', "
		"'running')"))
		abort();
	unlink(path); /* the open connection keeps it; nothing is left behind */
	return db;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cp_db *db;
	if (!db) {
		tide_log_open(NULL, TIDE_LOG_ERROR + 1); /* quiet: refusals are logged as warnings */
		cp_drones_init(8080, false);
		db = setup();
	}
	if (size == 0)
		return 0;
	struct cp_drone_conn *c = cp_drones_conn_open("127.0.0.1", db, sent, NULL);
	if (!c)
		abort();
	int keep = 1;
	if (data[0] & 1) {
		static const char hello[] = "{\"type\":\"hello\",\"name\":\"probe1\",\"token\":\"" TOKEN
			"\",\"links\":[{\"name\":\"p1\"}],\"captures\":[]}";
		keep = cp_drones_conn_message(c, hello, sizeof(hello) - 1);
		if (!keep || !cp_drones_conn_authed(c))
			abort();
	}
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	while (keep && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		keep = cp_drones_conn_message(c, p, len);
		p += len + 1;
	}
	cp_drones_conn_close(c);
	if (cp_drones_online("probe1", NULL))
		abort();
	return 0;
}
