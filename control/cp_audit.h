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

/* Appends a row; detail is stolen (NULL = {}). 0 or -errno. */
int cp_audit_append(struct cp_db *db, const char *actor, const char *addr, const char *action,
	const char *target, json_t *detail);
/* The same with the request's user (or "-" when anonymous) and address. */
int cp_audit(struct cp_req *r, const char *action, const char *target, json_t *detail);

#endif
