/* cp_db.h — SQLite for the control plane: connections, cached statements and the helpers
 * that step them, transactions and the schema migrations.
 *
 * Every civetweb worker thread owns one connection (SQLite connections must not be shared
 * between threads mid-statement, and WAL lets readers run beside the one writer). Each opens
 * in WAL mode with synchronous=FULL — a commit has reached the disk before it returns, so an
 * HTTP 2xx sent after a commit survives a kill -9 or a power cut — foreign keys on and a busy
 * timeout so concurrent writers queue instead of failing. Write transactions start with
 * BEGIN IMMEDIATE so they take the write lock up front and never deadlock on an upgrade. */
#ifndef CP_DB_H
#define CP_DB_H

#include <stdint.h>
#include <sqlite3.h>

struct cp_db;

#define CP_DB_FILE "tide.db"
#define CP_DB_BUSY_TIMEOUT_MS 5000

/* One schema step. Steps are applied in order, each in its own transaction that also sets
 * PRAGMA user_version = version, so a crash leaves the database at a whole step. Never edit a
 * released step: append a new one (cp_schema.c). */
struct cp_migration {
	int version;      /* 1, 2, 3, ... without gaps */
	const char *name; /* logged when applied */
	const char *sql;  /* one or more statements */
};

extern const struct cp_migration cp_migrations[];
extern const int cp_migrations_count;

/* Opens (creating) path with the pragmas above. NULL with errno set on failure. */
struct cp_db *cp_db_open(const char *path);
void cp_db_close(struct cp_db *db);
sqlite3 *cp_db_handle(struct cp_db *db);

/* The schema version stored in the file (PRAGMA user_version), or -errno. */
int cp_db_version(struct cp_db *db);
/* Applies every step above the current version up to target (0 = the latest). Refuses a
 * database newer than this binary knows (-EPROTO) so an older binary never damages it.
 * Returns the resulting version or -errno. */
int cp_db_migrate(struct cp_db *db, int target);

/* Says, in the log and on stderr, why the database at path stopped the start (err: the -errno
 * that did) and what the operator can do: a file SQLite does not recognise or whose pages fail
 * its quick_check is damaged (restore it from a backup); one that cannot be opened or read is
 * named with the system's reason. Reads the whole file, so it is for the failure path only.
 * Silent for -EPROTO and -EINVAL, which cp_db_migrate has explained already. */
void cp_db_explain(const char *path, int err);

/* A prepared statement for sql, cached per connection by the string's address (pass string
 * literals), reset with its bindings cleared. NULL (logged) if it does not compile. */
sqlite3_stmt *cp_db_stmt(struct cp_db *db, const char *sql);
/* Resets every cached statement: called at the end of each request so no read transaction
 * is left open (an open reader would stop WAL checkpoints). */
void cp_db_reset_all(struct cp_db *db);

int cp_db_begin(struct cp_db *db);   /* BEGIN IMMEDIATE; 0 or -errno (-EBUSY on timeout) */
int cp_db_commit(struct cp_db *db);  /* 0 or -errno; rolls back on failure */
void cp_db_rollback(struct cp_db *db);
int cp_db_exec(struct cp_db *db, const char *sql);

/* Maps an SQLite result code to -errno: BUSY/LOCKED → -EBUSY, CONSTRAINT → -EEXIST,
 * FULL → -ENOSPC, others → -EIO. */
int cp_db_errno(int sqlite_rc);

/* Runs st, a statement that returns no row (INSERT, UPDATE, DELETE), to its end and resets it:
 * 0 or -errno. A NULL st (cp_db_stmt failed, and logged why) gives -EIO, so a caller binds
 * when st is set and passes it on either way. */
int cp_db_done(sqlite3_stmt *st);
/* The cached statement for sql with ?1 = a and, when it has one, ?2 = b, run to its end
 * (cp_db_done). */
int cp_db_run(struct cp_db *db, const char *sql, int64_t a, int64_t b);
/* One integer from a query with ?1 = arg: 0 with *out its first row's first column (0 without
 * a row), or -errno. */
int cp_db_int(struct cp_db *db, const char *sql, int64_t arg, int64_t *out);

/* Convenience for the common single-row statements; rc is sqlite3_step's result. */
int64_t cp_db_last_id(struct cp_db *db);
int cp_db_changes(struct cp_db *db);

#endif
