/* cp_main.c — tide-control, the Hive: entry point.
 *
 * Order: options (usage errors cost nothing) → route table check (a route without a
 * permission stops the start, deny by default) → data directory, its lock (one Hive per
 * database) and the log → LDAP settings and TLS context (while single-threaded) → schema
 * migrations → first-start seeding (the admin account) → the scheduler → HTTP with the
 * drones' WebSocket → the local drone (a child dialling in) → wait for a signal (SIGHUP
 * reopens the log for rotation) → orderly stop: civetweb finishes the requests in flight,
 * then the database closes. Nothing is buffered in memory between a request and its commit,
 * so a kill -9 at any point loses no acknowledged write. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_audit.h"
#include "cp_crypto.h"
#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_drone_ws.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "cp_ldap.h"
#include "tide_log.h"
#include "cp_options.h"
#include "cp_routes.h"
#include "cp_scheduler.h"
#include "tide_fs.h"

#ifndef TIDE_VERSION
#define TIDE_VERSION "unknown"
#endif

#define ADMIN_NAME "admin"
#define ADMIN_PASSWORD_BYTES 15 /* 120 bits, 20 base64url characters */

static const char sql_admins_all[] =
	"INSERT OR IGNORE INTO group_permissions (group_id, permission)"
	" SELECT id, ?1 FROM groups WHERE builtin = 1 AND name = 'admins'";
static const char sql_user_count[] = "SELECT count(*) FROM users";
static const char sql_admin_insert[] =
	"INSERT INTO users (username, password_hash, created_at, updated_at)"
	" VALUES (?1, ?2, ?3, ?3)";
static const char sql_admin_group[] =
	"INSERT INTO user_groups (user_id, group_id)"
	" SELECT ?1, id FROM groups WHERE builtin = 1 AND name = 'admins'";

/* The admins group gets every permission this binary knows (new ones included), and a fresh
 * database gets its first account. The generated password is printed once, never logged. */
static int
seed(struct cp_db *db)
{
	char password[CP_PASSWORD_MAX + 1], hash[CP_PWHASH_MAX];
	bool generated = false;
	int rc = cp_db_begin(db);
	for (int p = CP_PERM_FIRST_NAMED; rc == 0 && p < CP_PERM_END; p++) {
		sqlite3_stmt *grant = cp_db_stmt(db, sql_admins_all);
		if (grant)
			sqlite3_bind_text(grant, 1, cp_perm_name((enum cp_perm)p), -1,
				SQLITE_TRANSIENT);
		rc = cp_db_done(grant);
	}
	sqlite3_stmt *st = rc ? NULL : cp_db_stmt(db, sql_user_count);
	int64_t users = -1;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		users = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	if (rc == 0 && users < 0)
		rc = -EIO;
	if (rc == 0 && users == 0) {
		const char *env = getenv("TIDE_ADMIN_PASSWORD");
		if (env && (strlen(env) < 8 || strlen(env) > CP_PASSWORD_MAX)) {
			tide_error("main", "TIDE_ADMIN_PASSWORD must be 8 to %d bytes",
				CP_PASSWORD_MAX);
			rc = -EINVAL;
		} else if (env) {
			snprintf(password, sizeof(password), "%s", env);
		} else {
			rc = cp_random_b64(password, sizeof(password), ADMIN_PASSWORD_BYTES);
			generated = true;
		}
		if (rc == 0)
			rc = cp_password_hash(password, hash);
		if (rc == 0 && (st = cp_db_stmt(db, sql_admin_insert))) {
			sqlite3_bind_text(st, 1, ADMIN_NAME, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 3, tide_wall_ms());
			rc = cp_db_errno(sqlite3_step(st));
			sqlite3_reset(st);
		}
		int64_t id = cp_db_last_id(db);
		if (rc == 0)
			rc = cp_db_run(db, sql_admin_group, id, 0);
		if (rc == 0)
			rc = cp_audit_append(db, "system", "", CP_AUDIT_USER_CREATE,
				"user:" ADMIN_NAME, json_pack("{s:I, s:[s], s:s}", "id",
					(json_int_t)id, "groups", "admins", "password",
					generated ? "generated" : "TIDE_ADMIN_PASSWORD"));
	}
	if (rc == 0)
		rc = cp_db_commit(db);
	else
		cp_db_rollback(db);
	if (rc == 0 && users == 0) {
		tide_info("main", "first start: created user '%s' in group admins", ADMIN_NAME);
		if (generated) {
			printf("admin password: %s\n", password);
			fflush(stdout);
		}
	}
	memset(password, 0, sizeof(password));
	return rc;
}

/* One Hive per data directory: a second one would race on the same jobs. The lock dies with
 * the process, so a kill -9 never leaves a stale one. */
static int
lock_data_dir(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/tide-control.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		close(fd);
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	return fd;
}

static int
run(struct cp_options *o)
{
	struct cp_server srv;
	memset(&srv, 0, sizeof(srv));
	srv.opt = o;
	int rc = tide_mkdir_p(o->data_dir, 0700) < 0 ? -errno : 0;
	if (rc) {
		fprintf(stderr, "tide-control: cannot create %s: %s\n", o->data_dir, strerror(-rc));
		return 1;
	}
	int lock = lock_data_dir(o->data_dir);
	if (lock < 0) {
		fprintf(stderr, "tide-control: %s: %s\n", o->data_dir, lock == -EBUSY ?
			"another tide-control is using this data directory" : strerror(-lock));
		return 1;
	}
	char log_path[PATH_MAX];
	const char *lp = NULL;
	if (strcmp(o->log_file, "-") != 0) {
		if (o->log_file[0])
			snprintf(log_path, sizeof(log_path), "%s", o->log_file);
		else
			snprintf(log_path, sizeof(log_path), "%s/tide-control.log", o->data_dir);
		lp = log_path;
	}
	rc = tide_log_open(lp, (enum tide_log_level)tide_log_level_parse(o->log_level));
	if (rc)
		fprintf(stderr, "tide-control: cannot open log %s: %s (logging to stderr)\n", lp,
			strerror(-rc));
	snprintf(srv.db_path, sizeof(srv.db_path), "%s/%s", o->data_dir, CP_DB_FILE);
	if (realpath(o->webui_dir, srv.webui_dir) == NULL)
		srv.webui_dir[0] = '\0';

	int status = 1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct cp_db *db = NULL;
	struct cp_ldap *ldap = NULL;
	struct cp_drone_local *drone = NULL;
	struct cp_scheduler *sched = NULL;
	if (cp_crypto_init(cpus > 0 ? (unsigned)cpus : 1)) {
		tide_error("main", "cannot initialise libsodium");
		goto out;
	}
	/* before the database (a bad setting changes nothing) and before any thread (libldap's
	 * TLS context is set up here, see cp_ldap.c) */
	if (o->ldap_uri[0] && !(ldap = cp_ldap_new(o)))
		goto out;
	srv.ldap = ldap;
	db = cp_db_open(srv.db_path);
	rc = db ? cp_db_migrate(db, (int)o->migrate_to) : -EIO;
	if (rc < 0) {
		cp_db_explain(srv.db_path, rc); /* damaged or unreadable: say so, and what to do */
		goto out;
	}
	if (o->migrate_to) {
		printf("schema version %d\n", rc);
		status = 0;
		goto out;
	}
	int err = seed(db);
	if (err) {
		cp_db_explain(srv.db_path, err);
		goto out;
	}
	cp_db_close(db);
	db = NULL;

	/* signals are taken synchronously by this thread; civetweb's threads inherit the mask */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sched = cp_scheduler_start(o, srv.db_path);
	if (!sched || cp_audit_tally_start(srv.db_path, (int64_t)o->login_audit_window * 1000))
		goto out;
	if (cp_http_start(&srv))
		goto out;
	/* the ports actually bound (ADDR:0 picks a free one), for whoever started us */
	int port = cp_http_port(&srv);
	cp_drones_init(port, srv.tls);
	if (cp_drone_ws_start(&srv))
		goto out;
	int drone_port = cp_drone_ws_port();
	/* the local drone dials in like any other, once we listen */
	if (o->local_links[0] && !(drone = cp_drone_local_start(o, srv.db_path, drone_port)))
		goto out;
	tide_info("main", "tide-control %s serving %s on %s port %d, drones on port %d (data %s, "
		"schema %d)", TIDE_VERSION, srv.tls ? "https" : "http", o->listen, port, drone_port,
		o->data_dir, rc);
	/* the drone port first: a reader that waits for the "listening" line has both */
	printf("tide-control drones on %s port %d\n", srv.tls ? "wss" : "ws", drone_port);
	printf("tide-control listening on %s port %d\n", srv.tls ? "https" : "http", port);
	fflush(stdout);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			tide_log_reopen();
			tide_info("main", "log reopened");
			continue;
		}
		tide_info("main", "stopping on signal %d", sig);
		break;
	}
	cp_drone_local_stop(drone); /* while HTTP still serves its last uploads */
	drone = NULL;
	cp_drone_ws_stop();
	cp_http_stop(&srv);
	status = 0;
out:
	cp_drone_local_stop(drone);
	cp_drone_ws_stop();
	cp_http_stop(&srv);
	cp_audit_tally_stop(); /* no request is left to refuse: the open windows' counts */
	cp_scheduler_stop(sched);
	cp_db_close(db);
	cp_ldap_free(ldap);
	cp_crypto_fini();
	tide_log_close();
	close(lock);
	return status;
}

int
main(int argc, char **argv)
{
	struct cp_options o;
	if (cp_options_parse(&o, argc, argv)) {
		cp_options_free(&o);
		return 2;
	}
	int status = 0;
	if (o.help) {
		cp_options_usage(stdout);
	} else if (o.version) {
		printf("tide-control %s\n", TIDE_VERSION);
	} else if (tide_log_level_parse(o.log_level) < 0) {
		fprintf(stderr, "tide-control: log_level must be debug, info, warn or error\n");
		status = 2;
	} else if (cp_routes_check()) {
		status = 1; /* already said which rows */
	} else if (o.list_routes) {
		cp_routes_list(stdout);
	} else {
		umask(077);
		status = run(&o);
	}
	cp_options_free(&o);
	return status;
}
