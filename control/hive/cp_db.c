/* cp_db.c — SQLite connections, the statement cache and its step helpers, transactions and the
 * migration runner.
 *
 * The statement cache is a small array searched by the SQL string's address: the program has a
 * fixed set of SQL literals (well under CP_DB_STMT_CACHE), so a linear scan of pointers is
 * cheaper than hashing text and nothing is ever evicted.
 *
 * A database that stops the start is diagnosed (cp_db_explain) with a fresh connection and
 * SQLite's quick_check, so the message says whether the file is damaged or unreadable rather
 * than whichever statement happened to fail first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cp_db.h"
#include "tide_log.h"

#define CP_DB_STMT_CACHE 160

struct cp_db {
	sqlite3 *h;
	int n_stmts;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} stmts[CP_DB_STMT_CACHE];
};

int
cp_db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int
cp_db_exec(struct cp_db *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		tide_error("db", "%s", err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return cp_db_errno(rc);
	}
	return 0;
}

struct cp_db *
cp_db_open(const char *path)
{
	struct cp_db *db = calloc(1, sizeof(*db));
	if (!db) {
		errno = ENOMEM;
		return NULL;
	}
	int rc = sqlite3_open_v2(path, &db->h,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		tide_error("db", "cannot open %s: %s", path,
			db->h ? sqlite3_errmsg(db->h) : "no memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->h, CP_DB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db->h, 1);
	/* journal_mode answers with the mode it got: an odd file system may refuse WAL */
	sqlite3_stmt *st;
	rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
		strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		rc = SQLITE_CANTOPEN;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		tide_error("db", "%s: cannot switch to WAL mode: %s", path,
			rc == SQLITE_CANTOPEN ? "the file system refuses it" : sqlite3_errmsg(db->h));
		goto fail;
	}
	rc = cp_db_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
			    "PRAGMA trusted_schema=OFF; PRAGMA cache_size=-2000");
	if (rc)
		goto fail;
	return db;
fail:
	sqlite3_close_v2(db->h);
	free(db);
	errno = EIO;
	return NULL;
}

void
cp_db_close(struct cp_db *db)
{
	if (!db)
		return;
	for (int i = 0; i < db->n_stmts; i++)
		sqlite3_finalize(db->stmts[i].st);
	sqlite3_close_v2(db->h);
	free(db);
}

sqlite3 *
cp_db_handle(struct cp_db *db)
{
	return db->h;
}

sqlite3_stmt *
cp_db_stmt(struct cp_db *db, const char *sql)
{
	for (int i = 0; i < db->n_stmts; i++) {
		if (db->stmts[i].sql == sql) {
			sqlite3_stmt *st = db->stmts[i].st;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	}
	if (db->n_stmts == CP_DB_STMT_CACHE) {
		tide_error("db", "statement cache full (%d): raise CP_DB_STMT_CACHE",
			CP_DB_STMT_CACHE);
		return NULL;
	}
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		tide_error("db", "cannot prepare '%.60s...': %s", sql, sqlite3_errmsg(db->h));
		return NULL;
	}
	db->stmts[db->n_stmts].sql = sql;
	db->stmts[db->n_stmts].st = st;
	db->n_stmts++;
	return st;
}

void
cp_db_reset_all(struct cp_db *db)
{
	for (int i = 0; i < db->n_stmts; i++)
		sqlite3_reset(db->stmts[i].st);
}

int
cp_db_done(sqlite3_stmt *st)
{
	if (!st)
		return -EIO;
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

int
cp_db_run(struct cp_db *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql);
	if (st) {
		sqlite3_bind_int64(st, 1, a);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_int64(st, 2, b);
	}
	return cp_db_done(st);
}

int
cp_db_int(struct cp_db *db, const char *sql, int64_t arg, int64_t *out)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, arg);
	int rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : cp_db_errno(rc);
}

int
cp_db_begin(struct cp_db *db)
{
	return cp_db_exec(db, "BEGIN IMMEDIATE");
}

int
cp_db_commit(struct cp_db *db)
{
	int rc = cp_db_exec(db, "COMMIT");
	if (rc)
		cp_db_rollback(db);
	return rc;
}

void
cp_db_rollback(struct cp_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int64_t
cp_db_last_id(struct cp_db *db)
{
	return sqlite3_last_insert_rowid(db->h);
}

int
cp_db_changes(struct cp_db *db)
{
	return sqlite3_changes(db->h);
}

int
cp_db_version(struct cp_db *db)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return cp_db_errno(rc);
	int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
	sqlite3_finalize(st);
	return v;
}

/* After a step: does every foreign key still point at a row? */
static int
foreign_keys_intact(struct cp_db *db)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->h, "PRAGMA foreign_key_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return cp_db_errno(rc);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW) {
		tide_error("db", "a migration step left foreign keys pointing nowhere");
		return -EPROTO;
	}
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

/* One step in one transaction. Foreign keys are off meanwhile (SQLite's procedure for
 * rebuilding a table: DROP TABLE would otherwise cascade into the tables that refer to it) and
 * checked before the commit. */
static int
apply_step(struct cp_db *db, const struct cp_migration *m)
{
	char pragma[64];
	int rc = cp_db_exec(db, "PRAGMA foreign_keys=OFF");
	if (rc == 0)
		rc = cp_db_begin(db);
	if (rc)
		return rc;
	rc = cp_db_exec(db, m->sql);
	if (rc == 0)
		rc = foreign_keys_intact(db);
	if (rc == 0) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", m->version);
		rc = cp_db_exec(db, pragma);
	}
	if (rc == 0)
		rc = cp_db_commit(db);
	else
		cp_db_rollback(db);
	int on = cp_db_exec(db, "PRAGMA foreign_keys=ON");
	return rc ? rc : on;
}

int
cp_db_migrate(struct cp_db *db, int target)
{
	for (int i = 0; i < cp_migrations_count; i++) {
		if (cp_migrations[i].version != i + 1) {
			tide_error("db", "migration list broken at entry %d (version %d)", i,
				cp_migrations[i].version);
			return -EINVAL;
		}
	}
	int latest = cp_migrations_count;
	if (target <= 0)
		target = latest;
	if (target > latest) {
		tide_error("db", "schema version %d requested; this binary knows up to %d", target,
			latest);
		return -EINVAL;
	}
	int v = cp_db_version(db);
	if (v < 0)
		return v;
	if (v > latest) {
		tide_error("db", "database schema %d is newer than this tide-control (%d): refusing "
			       "to touch it", v, latest);
		return -EPROTO;
	}
	for (int i = 0; i < cp_migrations_count; i++) {
		const struct cp_migration *m = &cp_migrations[i];
		if (m->version <= v || m->version > target)
			continue;
		int rc = apply_step(db, m);
		if (rc) {
			tide_error("db", "migration %d (%s) failed; database left at version %d",
				m->version, m->name, v);
			return rc;
		}
		tide_info("db", "schema migrated to %d: %s", m->version, m->name);
		v = m->version;
	}
	return v;
}

enum db_trouble { DB_OTHER, DB_DAMAGED, DB_UNREADABLE };

static enum db_trouble
trouble_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return DB_DAMAGED;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_NOLFS:
	case SQLITE_AUTH:
		return DB_UNREADABLE;
	default:
		return DB_OTHER;
	}
}

/* What is wrong with the file at path, SQLite's (or the system's) words in why. */
static enum db_trouble
diagnose(const char *path, char *why, size_t size)
{
	struct stat sb;
	snprintf(why, size, "SQLite finds nothing wrong with it");
	if (stat(path, &sb) != 0 && errno != ENOENT) {
		snprintf(why, size, "%s", strerror(errno));
		return DB_UNREADABLE;
	}
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		snprintf(why, size, "it is a %s, not a file", S_ISDIR(sb.st_mode) ? "directory" :
			"special file");
		return DB_UNREADABLE;
	}
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "PRAGMA quick_check(3)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	enum db_trouble t = DB_OTHER;
	if (rc == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(st, 0);
		if (res && strcmp(res, "ok") != 0) {
			snprintf(why, size, "%s", res);
			t = DB_DAMAGED;
		}
	} else if (rc != SQLITE_DONE) {
		int sys = h ? sqlite3_system_errno(h) : 0;
		t = trouble_of(rc);
		snprintf(why, size, "%s%s%s", h ? sqlite3_errmsg(h) : sqlite3_errstr(rc),
			sys && t == DB_UNREADABLE ? ": " : "",
			sys && t == DB_UNREADABLE ? strerror(sys) : "");
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(h);
	/* quick_check reports one problem a line: one log line keeps them together */
	for (char *c = why; *c; c++)
		if (*c == '\n')
			*c = ' ';
	return t;
}

void
cp_db_explain(const char *path, int err)
{
	if (err == -EPROTO || err == -EINVAL)
		return;
	char why[512];
	switch (diagnose(path, why, sizeof(why))) {
	case DB_DAMAGED:
		tide_error("db", "the database %s is damaged (%s); tide-control will not start on "
			"it. Restore it from a backup: with tide-control stopped, put the backup in "
			"its place and delete %s-wal and %s-shm, which belong to the damaged file. "
			"Without a backup, move those three files aside to start with an empty "
			"database (sqlite3's .recover may salvage rows from the old one)", path, why,
			path, path);
		break;
	case DB_UNREADABLE:
		tide_error("db", "cannot open the database %s (%s). It must be a regular file this "
			"user can read and write, on a mounted, healthy disk; if it was lost, restore "
			"it from a backup", path, why);
		break;
	case DB_OTHER:
		tide_error("db", "cannot use the database %s: %s (%s; see the messages above)", path,
			strerror(err < 0 ? -err : EIO), why);
		break;
	}
}
