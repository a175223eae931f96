/* cp_audit.h — appending to the audit log.
 *
 * Every security-relevant action (logins and their failures, logouts, token and user/group
 * changes; later job actions and downloads) appends one row: time, actor, client address,
 * action, target, detail (a JSON object). The row is written in the same transaction as the
 * change it records, so there is never a change without its record or a record without its
 * change. Nothing updates or deletes rows: no route does, and triggers refuse it (cp_schema.c).
 * Details never hold secrets. */
#ifndef CP_AUDIT_H
#define CP_AUDIT_H

#include <jansson.h>

struct cp_db;
struct cp_req;

/* Actions, as stored; dotted "area.verb". */
#define CP_AUDIT_LOGIN "auth.login"
#define CP_AUDIT_LOGOUT "auth.logout"
#define CP_AUDIT_PASSWORD "auth.password"
#define CP_AUDIT_TOKEN_CREATE "token.create"
#define CP_AUDIT_TOKEN_REVOKE "token.revoke"
#define CP_AUDIT_USER_CREATE "user.create"
#define CP_AUDIT_USER_UPDATE "user.update"
#define CP_AUDIT_USER_DELETE "user.delete"
#define CP_AUDIT_USER_SYNC "user.sync" /* an LDAP account's groups follow its directory groups */
#define CP_AUDIT_GROUP_CREATE "group.create"
#define CP_AUDIT_GROUP_UPDATE "group.update"
#define CP_AUDIT_GROUP_DELETE "group.delete"
#define CP_AUDIT_JOB_CREATE "job.create"
#define CP_AUDIT_JOB_STOP "job.stop"
#define CP_AUDIT_JOB_CANCEL "job.cancel"
#define CP_AUDIT_JOB_DELETE "job.delete"
#define CP_AUDIT_JOB_DOWNLOAD "job.download"
#define CP_AUDIT_DRONE_CREATE "drone.create"
#define CP_AUDIT_DRONE_DELETE "drone.delete"
#define CP_AUDIT_DRONE_TOKEN "drone.token"
#define CP_AUDIT_DRONE_TUNE "drone.tune"

/* Refusals a client can repeat at will — logins refused while an account or address is
 * locked, LDAP logins while the directory is down — would each append a row (fsynced, kept
 * for ever) and a log line: one script could grow the append-only table by megabytes a
 * minute. They are tallied instead, per subject (the account or address refused) and
 * reason. A subject's first refusal is audited and logged at once, its detail carrying
 * "count": 1; the refusals after it are only counted, in windows of login_audit_window
 * (1 min), and each window that counted any ends in one more row (detail "count": N,
 * "summary": true, "since"/"until", up to 8 of the "actors" and "addresses" seen; the row's
 * time is the last refusal's) and one log line. A flood therefore costs one row per subject
 * and window; a window without refusals ends the tally, so the next burst is audited at once
 * again. Summing "count" over the rows gives every refusal. Windows are closed by a thread of
 * their own (cp_audit_tally_start) or by the next refusal, and every open one is written at
 * an orderly stop; a kill -9 loses at most one window's count, never the first row. At most
 * CP_AUDIT_TALLY_MAX subjects are tallied at once; beyond, refusals get a row each. */
#define CP_AUDIT_TALLY_MAX 1024

struct cp_audit_refusal {
	const char *subject; /* what is refused: a throttle key, "user:<name>" or "addr:<addr>" */
	const char *reason;  /* why: "locked", "ldap_unavailable" */
	const char *what;    /* for the log line, e.g. "login refused, account locked" */
	const char *action;  /* the row's action; its area ("auth") is the log module */
	const char *actor, *addr, *target;
	json_t *detail;      /* stolen */
};
/* Audits one refusal as above, in a transaction of its own (never inside the caller's). 0 or
 * -errno when a row could not be written. */
int cp_audit_refusal(struct cp_db *db, const struct cp_audit_refusal *ref);
/* Starts the thread that writes closed windows (its own connection to db_path) with windows
 * of window_ms. 0 or -errno. */
int cp_audit_tally_start(const char *db_path, int64_t window_ms);
/* Writes every window still open and stops the thread; a no-op when it never started. */
void cp_audit_tally_stop(void);

/* Appends a row; detail is stolen (NULL = {}). 0 or -errno. */
int cp_audit_append(struct cp_db *db, const char *actor, const char *addr, const char *action,
	const char *target, json_t *detail);
/* The same with the request's user (or "-" when anonymous) and address. */
int cp_audit(struct cp_req *r, const char *action, const char *target, json_t *detail);

#endif
