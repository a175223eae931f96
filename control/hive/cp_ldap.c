/* cp_ldap.c — the LDAP client behind POST /auth/login: bind + search, group mapping.
 *
 * One login is one short connection: connect (and StartTLS), bind as the service account (or
 * stay anonymous), search the user with the escaped name, read its groups (the memberOf-style
 * attribute, or a search under ldap_group_base), then bind as the user's DN with the password,
 * and unbind. A connection per login keeps threads independent (no shared handle, no lock,
 * no stale connection after the directory restarts); logins are rare next to API requests.
 *
 * Bounds: the whole exchange shares one deadline of ldap_timeout (every step gets what is
 * left, so a directory that accepts TCP and then hangs costs at most ldap_timeout); the user
 * search asks for at most 2 entries (a second one means the filter is ambiguous: refused);
 * at most CP_LDAP_SEEN_MAX groups are read; DNs longer than CP_LDAP_DN_MAX are ignored.
 *
 * TLS is set up once at start (cp_ldap_new, single-threaded) on libldap's global context:
 * certificates are always verified (DEMAND, host name included), TLS 1.2 at least, the CA
 * file if given. Every connection inherits that context. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldap.h>

#include "cp_ldap.h"
#include "tide_log.h"
#include "cp_options.h"
#include "tide_time.h"

struct map_entry {
	char *key;   /* a normalised DN (is_dn), else a CN */
	bool is_dn;
	char group[CP_LDAP_NAME_MAX + 1];
};

struct cp_ldap {
	const struct cp_options *o; /* uri, base and filters are read from here */
	bool group_search;          /* ldap_group_base set: search groups, not an attribute */
	char *bind_password;        /* from ldap_bind_password or its file */
	size_t n_map;
	struct map_entry map[CP_LDAP_MAP_MAX];
};

/* ---- pure helpers -------------------------------------------------------------------- */

int
cp_ldap_escape(const char *in, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		/* the five RFC 4515 must-escapes, and anything not printable ASCII, which is
		 * valid escaped and keeps logs of filters readable */
		bool esc = c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f;
		if (n + (esc ? 3 : 1) >= size)
			return -E2BIG;
		if (esc) {
			out[n++] = '\\';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else {
			out[n++] = (char)c;
		}
	}
	if (n >= size)
		return -E2BIG;
	out[n] = '\0';
	return (int)n;
}

int
cp_ldap_filter(const char *pattern, const char *value, const char *username, char *out,
	size_t size)
{
	size_t n = 0;
	for (const char *p = pattern; *p; p++) {
		if (*p != '%') {
			if (n + 1 >= size)
				return -E2BIG;
			out[n++] = *p;
			continue;
		}
		p++;
		const char *v = *p == 's' ? value : *p == 'u' ? username : NULL;
		if (*p == '%') {
			if (n + 1 >= size)
				return -E2BIG;
			out[n++] = '%';
			continue;
		}
		if (!v)
			return -EINVAL;
		int w = cp_ldap_escape(v, strlen(v), out + n, size - n);
		if (w < 0)
			return w;
		n += (size_t)w;
	}
	if (n >= size)
		return -E2BIG;
	out[n] = '\0';
	return 0;
}

/* The value of the first RDN's CN, or NULL. */
static const struct berval *
first_cn(LDAPDN dn)
{
	if (!dn || !dn[0])
		return NULL;
	for (int j = 0; dn[0][j]; j++) {
		const LDAPAVA *ava = dn[0][j];
		if (ava->la_attr.bv_len == 2 && strncasecmp(ava->la_attr.bv_val, "cn", 2) == 0)
			return &ava->la_value;
	}
	return NULL;
}

static bool
add_group(struct cp_ldap_account *acct, const char *group)
{
	for (unsigned i = 0; i < acct->n_groups; i++)
		if (strcasecmp(acct->groups[i], group) == 0)
			return false;
	if (acct->n_groups == CP_LDAP_GROUPS_MAX) {
		tide_warn("ldap", "more than %d tide groups mapped; '%s' dropped", CP_LDAP_GROUPS_MAX,
			group);
		return false;
	}
	snprintf(acct->groups[acct->n_groups++], CP_LDAP_NAME_MAX + 1, "%s", group);
	return true;
}

int
cp_ldap_map_group(const struct cp_ldap *l, const char *group_dn, struct cp_ldap_account *acct)
{
	char *norm = NULL;
	LDAPDN dn = NULL;
	/* a value that does not parse as a DN matches nothing */
	if (ldap_dn_normalize(group_dn, LDAP_DN_FORMAT_LDAP, &norm, LDAP_DN_FORMAT_LDAPV3) !=
		LDAP_SUCCESS)
		norm = NULL;
	if (ldap_str2dn(group_dn, &dn, LDAP_DN_FORMAT_LDAP) != LDAP_SUCCESS)
		dn = NULL;
	const struct berval *cn = first_cn(dn);
	int added = 0;
	for (size_t i = 0; i < l->n_map; i++) {
		const struct map_entry *m = &l->map[i];
		bool hit = m->is_dn ? norm && strcasecmp(norm, m->key) == 0
				    : cn && cn->bv_len == strlen(m->key) &&
					strncasecmp(cn->bv_val, m->key, cn->bv_len) == 0;
		if (hit && add_group(acct, m->group))
			added++;
	}
	ldap_memfree(norm);
	ldap_dnfree(dn);
	return added;
}

/* ---- configuration ------------------------------------------------------------------- */

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Tide group names as the API accepts them: 1-64 of [a-z0-9._-], starting alphanumeric. */
static bool
valid_group(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CP_LDAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
		if (!alnum && (i == 0 || (s[i] != '.' && s[i] != '_' && s[i] != '-')))
			return false;
	}
	return true;
}

/* "KEY=group;KEY=group": split at ';', then at each entry's last '=' (a DN holds '='s). */
static int
parse_map(struct cp_ldap *l, const char *text)
{
	char *copy = strdup(text), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	for (char *e = strtok_r(copy, ";", &save); e && rc == 0; e = strtok_r(NULL, ";", &save)) {
		e = trim(e);
		if (!*e)
			continue;
		char *eq = strrchr(e, '=');
		if (!eq) {
			tide_error("ldap", "ldap_group_map: '%s' is not GROUP=tidegroup", e);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		char *key = trim(e), *group = trim(eq + 1);
		if (!*key || !valid_group(group)) {
			tide_error("ldap", "ldap_group_map: '%s=%s' needs an LDAP group and a tide "
				"group name (a-z 0-9 . _ -)", key, group);
			rc = -EINVAL;
			break;
		}
		if (l->n_map == CP_LDAP_MAP_MAX) {
			tide_error("ldap", "ldap_group_map: more than %d entries", CP_LDAP_MAP_MAX);
			rc = -EINVAL;
			break;
		}
		struct map_entry *m = &l->map[l->n_map];
		m->is_dn = strchr(key, '=') != NULL;
		if (m->is_dn) {
			char *norm = NULL;
			if (ldap_dn_normalize(key, LDAP_DN_FORMAT_LDAP, &norm,
				    LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !norm) {
				tide_error("ldap", "ldap_group_map: '%s' is not a valid DN", key);
				rc = -EINVAL;
				break;
			}
			m->key = strdup(norm);
			ldap_memfree(norm);
		} else {
			m->key = strdup(key);
		}
		if (!m->key) {
			rc = -ENOMEM;
			break;
		}
		snprintf(m->group, sizeof(m->group), "%s", group);
		l->n_map++;
	}
	free(copy);
	return rc;
}

/* A filter pattern must be one parenthesised filter and name the user (else every login
 * would find the same entry). */
static int
check_filter(const char *key, const char *pattern)
{
	char out[CP_LDAP_FILTER_MAX];
	int depth = 0;
	bool balanced = pattern[0] == '(';
	for (const char *p = pattern; *p && balanced; p++) {
		depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		balanced = depth > 0 || (depth == 0 && p[1] == '\0');
	}
	if (!balanced || depth != 0 || cp_ldap_filter(pattern, "x", "x", out, sizeof(out)) ||
		(!strstr(pattern, "%s") && !strstr(pattern, "%u"))) {
		tide_error("ldap", "%s '%s': one parenthesised filter naming the user with %%s "
			"(%%u, %%%% allowed)", key, pattern);
		return -EINVAL;
	}
	return 0;
}

static bool
loopback_host(const char *host)
{
	return !host || !*host || strcmp(host, "localhost") == 0 ||
		strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

/* ldap_uri: one or more ldap:// or ldaps:// URIs (space- or comma-separated, tried in order). */
static int
check_uris(const char *uris, bool starttls, bool *tls)
{
	char *copy = strdup(uris), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int rc = 0, n = 0;
	*tls = starttls;
	for (char *u = strtok_r(copy, " ,", &save); u && rc == 0; u = strtok_r(NULL, " ,", &save)) {
		LDAPURLDesc *lud = NULL;
		n++;
		if (ldap_url_parse(u, &lud) != LDAP_URL_SUCCESS || !lud->lud_scheme ||
			(strcasecmp(lud->lud_scheme, "ldap") != 0 &&
				strcasecmp(lud->lud_scheme, "ldaps") != 0)) {
			tide_error("ldap", "ldap_uri: '%s' is not an ldap:// or ldaps:// URI", u);
			rc = -EINVAL;
		} else if (strcasecmp(lud->lud_scheme, "ldaps") == 0) {
			*tls = true;
			if (starttls) {
				tide_error("ldap", "ldap_starttls is for ldap:// URIs; '%s' is "
					"already TLS", u);
				rc = -EINVAL;
			}
		} else if (!starttls && !loopback_host(lud->lud_host)) {
			tide_warn("ldap", "%s: passwords cross the network in clear; use ldaps:// "
				"or ldap_starttls = yes", u);
		}
		if (lud)
			ldap_free_urldesc(lud);
	}
	free(copy);
	if (rc == 0 && n == 0) {
		tide_error("ldap", "ldap_uri holds no URI");
		rc = -EINVAL;
	}
	return rc;
}

static int
read_password_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int err = errno;
		tide_error("ldap", "ldap_bind_password_file %s: %s", path, strerror(err));
		return -EINVAL;
	}
	char line[1024 + 2];
	bool got = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	line[strcspn(got ? line : "", "\r\n")] = '\0';
	if (!got || !line[0]) {
		tide_error("ldap", "ldap_bind_password_file %s: empty", path);
		return -EINVAL;
	}
	*out = strdup(line);
	memset(line, 0, sizeof(line));
	return *out ? 0 : -ENOMEM;
}

/* libldap's global TLS context, made once here while no other thread exists. */
static int
setup_tls(const char *ca_file)
{
	int demand = LDAP_OPT_X_TLS_DEMAND, min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
	int lrc = ldap_set_option(NULL, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
	if (lrc == LDAP_OPT_SUCCESS)
		lrc = ldap_set_option(NULL, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min);
	if (lrc == LDAP_OPT_SUCCESS && ca_file[0])
		lrc = ldap_set_option(NULL, LDAP_OPT_X_TLS_CACERTFILE, ca_file);
	if (lrc == LDAP_OPT_SUCCESS)
		lrc = ldap_set_option(NULL, LDAP_OPT_X_TLS_NEWCTX, &zero);
	if (lrc != LDAP_OPT_SUCCESS) {
		tide_error("ldap", "cannot set up TLS%s%s: %s", ca_file[0] ? " with " : "", ca_file,
			ldap_err2string(lrc));
		return -EINVAL;
	}
	return 0;
}

struct cp_ldap *
cp_ldap_new(const struct cp_options *o)
{
	struct cp_ldap *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->o = o;
	/* the first option call initialises libldap's globals (ldap.conf included): done here,
	 * before threads, rather than racing in the first logins */
	int v3 = LDAP_VERSION3;
	ldap_set_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v3);
	l->group_search = o->ldap_group_base[0] != '\0';
	bool tls = false;
	int rc = check_uris(o->ldap_uri, o->ldap_starttls, &tls);
	if (rc == 0 && !o->ldap_base_dn[0]) {
		tide_error("ldap", "ldap_base_dn is required with ldap_uri");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = check_filter("ldap_user_filter", o->ldap_user_filter);
	if (rc == 0 && l->group_search)
		rc = check_filter("ldap_group_filter", o->ldap_group_filter);
	if (rc == 0 && !l->group_search && !o->ldap_group_attr[0]) {
		tide_error("ldap", "set ldap_group_attr or ldap_group_base");
		rc = -EINVAL;
	}
	if (rc == 0 && o->ldap_bind_password[0] && o->ldap_bind_password_file[0]) {
		tide_error("ldap", "set ldap_bind_password or ldap_bind_password_file, not both");
		rc = -EINVAL;
	}
	if (rc == 0 && o->ldap_bind_password_file[0])
		rc = read_password_file(o->ldap_bind_password_file, &l->bind_password);
	else if (rc == 0 && !(l->bind_password = strdup(o->ldap_bind_password)))
		rc = -ENOMEM;
	/* a DN without a password is an unauthenticated bind: it would "succeed" and search
	 * anonymously, hiding the misconfiguration */
	if (rc == 0 && (o->ldap_bind_dn[0] != '\0') != (l->bind_password[0] != '\0')) {
		tide_error("ldap", "ldap_bind_dn and its password go together (neither = anonymous)");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = parse_map(l, o->ldap_group_map);
	if (rc == 0 && l->n_map == 0)
		tide_warn("ldap", "ldap_group_map is empty: every LDAP login will be refused "
			"(no tide group)");
	if (rc == 0 && tls)
		rc = setup_tls(o->ldap_ca_file);
	if (rc) {
		cp_ldap_free(l);
		errno = rc == -ENOMEM ? ENOMEM : EINVAL;
		return NULL;
	}
	tide_info("ldap", "sign-in through %s%s, base %s, groups from %s, %zu map entries, "
		"timeout %llus", o->ldap_uri, o->ldap_starttls ? " (StartTLS)" : "",
		o->ldap_base_dn, l->group_search ? o->ldap_group_base : o->ldap_group_attr,
		l->n_map, (unsigned long long)o->ldap_timeout);
	return l;
}

void
cp_ldap_free(struct cp_ldap *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_map; i++)
		free(l->map[i].key);
	if (l->bind_password) {
		memset(l->bind_password, 0, strlen(l->bind_password));
		free(l->bind_password);
	}
	free(l);
}

/* ---- one login ------------------------------------------------------------------------ */


/* Gives the next step what is left of the login's deadline (connect and every synchronous
 * call use these two options). -ETIMEDOUT when nothing is left. */
static int
arm(LDAP *ld, int64_t deadline, struct timeval *tv)
{
	int64_t left = deadline - tide_mono_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	tv->tv_sec = (time_t)(left / 1000);
	tv->tv_usec = (suseconds_t)(left % 1000) * 1000;
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, tv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, tv);
	return 0;
}

/* Logs why the directory failed a step and maps it to -errno for "unavailable". */
static int
unavailable(LDAP *ld, const char *step, int lrc)
{
	char *diag = NULL;
	if (ld)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	tide_warn("ldap", "%s: %s%s%s", step, ldap_err2string(lrc), diag && *diag ? "; " : "",
		diag && *diag ? diag : "");
	ldap_memfree(diag);
	switch (lrc) {
	case LDAP_TIMEOUT:
	case LDAP_TIMELIMIT_EXCEEDED:
		return -ETIMEDOUT;
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
		return -EHOSTUNREACH;
	default:
		return -EIO;
	}
}

/* Connects (StartTLS when configured) and binds as the service account, if any. */
static int
open_directory(const struct cp_ldap *l, int64_t deadline, LDAP **out)
{
	const struct cp_options *o = l->o;
	LDAP *ld = NULL;
	struct timeval tv;
	int lrc = ldap_initialize(&ld, o->ldap_uri);
	if (lrc != LDAP_SUCCESS)
		return unavailable(NULL, "ldap_initialize", lrc);
	*out = ld;
	int v3 = LDAP_VERSION3;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	if (arm(ld, deadline, &tv))
		return unavailable(ld, "connecting", LDAP_TIMEOUT);
	if ((lrc = ldap_connect(ld)) != LDAP_SUCCESS)
		return unavailable(ld, "connecting", lrc);
	if (o->ldap_starttls) {
		if (arm(ld, deadline, &tv))
			return unavailable(ld, "StartTLS", LDAP_TIMEOUT);
		if ((lrc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS)
			return unavailable(ld, "StartTLS", lrc);
	}
	if (!o->ldap_bind_dn[0])
		return 0;
	struct berval cred = { strlen(l->bind_password), l->bind_password };
	if (arm(ld, deadline, &tv))
		return unavailable(ld, "binding as ldap_bind_dn", LDAP_TIMEOUT);
	lrc = ldap_sasl_bind_s(ld, o->ldap_bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	/* a refused service account is a configuration fault, never the user's wrong password */
	return lrc == LDAP_SUCCESS ? 0 : unavailable(ld, "binding as ldap_bind_dn", lrc);
}

/* Maps one LDAP group (a DN as an attribute value or a found entry's DN). */
static void
see_group(const struct cp_ldap *l, const char *dn, size_t len, struct cp_ldap_account *acct)
{
	char buf[CP_LDAP_DN_MAX + 1];
	if (acct->n_ldap_groups == CP_LDAP_SEEN_MAX) {
		if (!acct->truncated)
			tide_warn("ldap", "%s: more than %d groups; the rest are ignored", acct->dn,
				CP_LDAP_SEEN_MAX);
		acct->truncated = true;
		return;
	}
	if (len > CP_LDAP_DN_MAX || memchr(dn, '\0', len))
		return;
	acct->n_ldap_groups++;
	memcpy(buf, dn, len);
	buf[len] = '\0';
	cp_ldap_map_group(l, buf, acct);
}

/* Finds the one entry the user filter matches; reads its group attribute. */
static int
find_user(const struct cp_ldap *l, LDAP *ld, int64_t deadline, const char *username,
	struct cp_ldap_account *acct)
{
	const struct cp_options *o = l->o;
	char filter[CP_LDAP_FILTER_MAX];
	if (cp_ldap_filter(o->ldap_user_filter, username, username, filter, sizeof(filter)))
		return -EINVAL;
	char *attrs[] = { l->group_search ? "1.1" : o->ldap_group_attr, NULL }; /* 1.1: none */
	struct timeval tv;
	LDAPMessage *res = NULL;
	if (arm(ld, deadline, &tv))
		return unavailable(ld, "searching the user", LDAP_TIMEOUT);
	int lrc = ldap_search_ext_s(ld, o->ldap_base_dn, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
		NULL, NULL, &tv, 2, &res);
	int rc = 0;
	if (lrc == LDAP_SIZELIMIT_EXCEEDED || (lrc == LDAP_SUCCESS && ldap_count_entries(ld, res) > 1)) {
		tide_warn("ldap", "user filter %s matches several entries: refused", filter);
		rc = -ENOENT;
	} else if (lrc != LDAP_SUCCESS) {
		rc = unavailable(ld, "searching the user", lrc);
	}
	LDAPMessage *e = rc ? NULL : ldap_first_entry(ld, res);
	char *dn = e ? ldap_get_dn(ld, e) : NULL;
	if (rc == 0 && (!dn || !*dn || strlen(dn) > CP_LDAP_DN_MAX))
		rc = -ENOENT; /* no entry; an empty DN would be an anonymous bind */
	if (rc == 0) {
		snprintf(acct->dn, sizeof(acct->dn), "%s", dn);
		struct berval **vals = l->group_search ? NULL :
			ldap_get_values_len(ld, e, o->ldap_group_attr);
		for (int i = 0; vals && vals[i]; i++)
			see_group(l, vals[i]->bv_val, vals[i]->bv_len, acct);
		ldap_value_free_len(vals);
	}
	ldap_memfree(dn);
	ldap_msgfree(res);
	return rc;
}

/* Group-search mode: every entry under ldap_group_base that the group filter matches. */
static int
find_groups(const struct cp_ldap *l, LDAP *ld, int64_t deadline, const char *username,
	struct cp_ldap_account *acct)
{
	const struct cp_options *o = l->o;
	char filter[CP_LDAP_FILTER_MAX];
	if (cp_ldap_filter(o->ldap_group_filter, acct->dn, username, filter, sizeof(filter))) {
		tide_warn("ldap", "%s: group filter too long", acct->dn);
		return -EIO;
	}
	char *attrs[] = { "1.1", NULL };
	struct timeval tv;
	LDAPMessage *res = NULL;
	if (arm(ld, deadline, &tv))
		return unavailable(ld, "searching groups", LDAP_TIMEOUT);
	int lrc = ldap_search_ext_s(ld, o->ldap_group_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
		NULL, NULL, &tv, CP_LDAP_SEEN_MAX, &res);
	if (lrc != LDAP_SUCCESS && lrc != LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		return unavailable(ld, "searching groups", lrc);
	}
	/* past the size limit we map what came: fewer groups can only mean fewer rights */
	if (lrc == LDAP_SIZELIMIT_EXCEEDED) {
		tide_warn("ldap", "%s: more than %d groups; the rest are ignored", acct->dn,
			CP_LDAP_SEEN_MAX);
		acct->truncated = true;
	}
	for (LDAPMessage *e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
		char *dn = ldap_get_dn(ld, e);
		if (dn)
			see_group(l, dn, strlen(dn), acct);
		ldap_memfree(dn);
	}
	ldap_msgfree(res);
	return 0;
}

/* The password check proper: a simple bind as the user's own DN. */
static int
bind_user(LDAP *ld, int64_t deadline, const char *dn, const char *password)
{
	struct berval cred = { strlen(password), (char *)password };
	struct timeval tv;
	if (arm(ld, deadline, &tv))
		return unavailable(ld, "binding as the user", LDAP_TIMEOUT);
	int lrc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	switch (lrc) {
	case LDAP_SUCCESS:
		return 0;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_UNWILLING_TO_PERFORM: /* e.g. a locked account */
	case LDAP_CONSTRAINT_VIOLATION: /* e.g. an expired password under a password policy */
		return -EACCES;
	default:
		return unavailable(ld, "binding as the user", lrc);
	}
}

int
cp_ldap_authenticate(const struct cp_ldap *l, const char *username, const char *password,
	struct cp_ldap_account *acct)
{
	memset(acct, 0, sizeof(*acct));
	if (!password[0])
		return -EACCES; /* an unauthenticated bind must never pass for a login */
	size_t n = strlen(username);
	if (n == 0 || n > CP_LDAP_NAME_MAX)
		return -EINVAL;
	int64_t deadline = tide_mono_ms() + (int64_t)l->o->ldap_timeout * 1000;
	LDAP *ld = NULL;
	int rc = open_directory(l, deadline, &ld);
	if (rc == 0)
		rc = find_user(l, ld, deadline, username, acct);
	if (rc == 0 && l->group_search)
		rc = find_groups(l, ld, deadline, username, acct);
	if (rc == 0)
		rc = bind_user(ld, deadline, acct->dn, password);
	if (ld)
		ldap_unbind_ext_s(ld, NULL, NULL);
	if (rc)
		memset(acct, 0, sizeof(*acct)); /* nothing learnt without the password */
	return rc;
}
