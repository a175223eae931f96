/* cp_ldap.h — signing in against an LDAP directory, and mapping its groups to tide groups.
 *
 * TCI's LDAP client: a user name unknown locally (or belonging to an account made from LDAP)
 * is looked up in the directory with the service account, the password is checked by binding
 * as the entry found, and the entry's LDAP groups are mapped to tide groups through
 * ldap_group_map. This module only talks to the directory; creating the local account and
 * synchronising its groups happen in the login handler (cp_api_auth.c), in the transaction
 * that opens the session.
 *
 * Safety rules kept here, whoever calls:
 *  - every value put into a filter is escaped per RFC 4515 (cp_ldap_filter), so a user name
 *    can never change a filter's structure;
 *  - an empty password is refused before the directory is asked (a simple bind with a DN and
 *    no password is an "unauthenticated bind" that many servers answer with success);
 *  - fail closed: a directory that is down, slow (ldap_timeout for the whole login), refuses
 *    the service account or presents a certificate that does not verify makes the login fail;
 *  - TLS (ldaps:// or StartTLS) always verifies the server's certificate and name;
 *  - referrals are not chased (they would carry the user's password elsewhere);
 *  - no password is ever logged. */
#ifndef CP_LDAP_H
#define CP_LDAP_H

#include <stdbool.h>
#include <stddef.h>

struct cp_ldap;
struct cp_options;

#define CP_LDAP_DN_MAX 1024       /* longer DNs (users or groups) are not used */
#define CP_LDAP_NAME_MAX 64       /* tide group names, as CP_GROUPNAME_MAX */
#define CP_LDAP_GROUPS_MAX 64     /* tide groups one account can be mapped to */
#define CP_LDAP_MAP_MAX 256       /* entries in ldap_group_map */
#define CP_LDAP_SEEN_MAX 1000     /* LDAP groups read per login; more are ignored (logged) */
#define CP_LDAP_FILTER_MAX 8192   /* a built filter, escapes included */

/* What the directory said about an authenticated user. */
struct cp_ldap_account {
	char dn[CP_LDAP_DN_MAX + 1];
	unsigned n_ldap_groups;   /* LDAP groups the directory listed (at most CP_LDAP_SEEN_MAX) */
	bool truncated;           /* it listed more; those were ignored (logged) */
	unsigned n_groups;        /* distinct tide groups they map to, in map order */
	char groups[CP_LDAP_GROUPS_MAX][CP_LDAP_NAME_MAX + 1];
};

/* Checks and keeps the ldap_* settings of o (o must outlive the result): the URIs, the
 * filters, the group map; reads ldap_bind_password_file; sets up TLS once (CA file loaded,
 * certificate verification demanded) while the process is still single-threaded. Call only
 * when o->ldap_uri is set. NULL with errno set (EINVAL after logging what is wrong). */
struct cp_ldap *cp_ldap_new(const struct cp_options *o);
void cp_ldap_free(struct cp_ldap *l);

/* Checks username and password against the directory and fills acct. Thread-safe: one
 * connection per call, closed before returning; the whole call takes at most ldap_timeout.
 * Returns
 *   0        authenticated; acct->groups may be empty (no mapped group);
 *   -EACCES  wrong or empty password;
 *   -ENOENT  no such user (or the filter matched more than one entry);
 *   -EINVAL  a user name that cannot be looked up (empty, too long);
 *   -ETIMEDOUT, -EHOSTUNREACH, -EIO  the directory could not answer (down, too slow, TLS,
 *            service account refused, misconfiguration); logged with the directory's reason.
 * The caller treats every other code than 0, -EACCES, -ENOENT and -EINVAL as "unavailable". */
int cp_ldap_authenticate(const struct cp_ldap *l, const char *username, const char *password,
	struct cp_ldap_account *acct);

/* ---- pure helpers, exported for the unit test (tests/hive/test_cp_ldap.c) ------------- */

/* RFC 4515 assertion-value escaping of len bytes of in: '*', '(', ')', '\' and NUL, and also
 * every other control or non-ASCII byte, become \XX (two lower-case hex digits). Returns the
 * length written (NUL-terminated), or -E2BIG when out is too small. */
int cp_ldap_escape(const char *in, size_t len, char *out, size_t size);
/* Expands pattern into out: %s → escaped value, %u → escaped username, %% → %. 0, -EINVAL for
 * another '%' sequence, -E2BIG when out is too small. */
int cp_ldap_filter(const char *pattern, const char *value, const char *username, char *out,
	size_t size);
/* Adds to acct->groups the tide groups that the LDAP group group_dn maps to — an entry whose
 * key is a DN matches the same DN (compared normalised, without case), one whose key is a
 * plain name matches the group's CN (its first RDN). Returns the number added. */
int cp_ldap_map_group(const struct cp_ldap *l, const char *group_dn,
	struct cp_ldap_account *acct);

#endif
