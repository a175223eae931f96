/* cp_perm.h — the permissions groups carry, and the two pseudo-permissions routes may declare.
 *
 * A route must name exactly one of these (deny by default): CP_PERM_PUBLIC (no credentials),
 * CP_PERM_AUTHENTICATED (any signed-in user) or one named permission. CP_PERM_UNSET is zero so
 * a route row that forgets its permission is caught by the start-up check in cp_routes.c.
 *
 * Named permissions are an X-macro list: the enum, the names stored in group_permissions and
 * the descriptions GET /api/v1/permissions returns all come from it. A user's permissions are
 * a bit set (one bit per named permission), the union over their groups. Adding one is one line
 * here; the built-in admins group receives it at the next start (cp_seed). */
#ifndef CP_PERM_H
#define CP_PERM_H

#include <stdint.h>

#define CP_PERMISSIONS(_)                                                                       \
	_(JOBS_READ, "jobs.read", "see own jobs and jobs of own groups")                         \
	_(JOBS_WRITE, "jobs.write", "create, stop and delete own jobs")                          \
	_(JOBS_READ_ALL, "jobs.read_all", "see every job and dataset")                           \
	_(USERS_ADMIN, "users.admin", "manage users and groups")                                 \
	_(DRONES_ADMIN, "drones.admin", "register drones and tune their links")                  \
	_(LOGS_READ, "logs.read", "download the control plane's log")                            \
	_(AUDIT_READ, "audit.read", "read the audit log")

enum cp_perm {
	CP_PERM_UNSET = 0,     /* never valid: a route row without a permission */
	CP_PERM_PUBLIC,        /* no credentials needed (health, login) */
	CP_PERM_AUTHENTICATED, /* any signed-in user (their own session and tokens) */
	CP_PERM_DRONE,         /* a drone's token (uploads); never a user */
#define CP_PERM_ENUM(id, name, desc) CP_PERM_##id,
	CP_PERMISSIONS(CP_PERM_ENUM)
#undef CP_PERM_ENUM
	CP_PERM_END
};

#define CP_PERM_FIRST_NAMED (CP_PERM_DRONE + 1)
#define CP_PERM_NAMED_COUNT (CP_PERM_END - CP_PERM_FIRST_NAMED)
_Static_assert(CP_PERM_NAMED_COUNT < 64, "a user's permissions are one 64-bit set");

/* A permission set is a uint64_t: bit (p - CP_PERM_FIRST_NAMED) for each named permission. */
static inline uint64_t
cp_perm_bit(enum cp_perm p)
{
	return p >= CP_PERM_FIRST_NAMED && p < CP_PERM_END ? 1ull << (p - CP_PERM_FIRST_NAMED) : 0;
}

#define CP_PERM_ALL ((uint64_t)((1ull << CP_PERM_NAMED_COUNT) - 1)) /* below 64, see above */

/* "public", "authenticated" or the permission's name; NULL for CP_PERM_UNSET / out of range. */
const char *cp_perm_name(enum cp_perm p);
const char *cp_perm_description(enum cp_perm p);
/* Named permission by name, or CP_PERM_UNSET when unknown (pseudo-permissions included). */
enum cp_perm cp_perm_lookup(const char *name);

#endif
