/* test_cp_ldap.c — the pure parts of the LDAP client: RFC 4515 escaping, filter building, the
 * group map and the settings check.
 *
 * The escaping is what makes LDAP filter injection impossible, so it is pinned down here as a
 * table (input bytes → exact filter text) rather than only through a live slapd
 * (test_ldap.py, which also shows the names never reach the server). Links the real
 * cp_ldap.c, cp_options.c (settings are given as command-line flags, as a user would) and
 * tide_log.c; no directory is contacted. Plain C, no framework: exit 0 when every check holds. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cp_ldap.h"
#include "tide_log.h"
#include "cp_options.h"

static int failures;

#define CHECK(cond)                                                                             \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                             \
		}                                                                               \
	} while (0)

static const struct {
	const char *in;
	size_t len; /* 0 = strlen(in) */
	const char *out;
} escapes[] = {
	{ "alice", 0, "alice" },
	{ "a.b_c-d@e", 0, "a.b_c-d@e" },
	{ "*", 0, "\\2a" },
	{ "(", 0, "\\28" },
	{ ")", 0, "\\29" },
	{ "\\", 0, "\\5c" },
	{ "a\0b", 3, "a\\00b" },
	{ "alice)(uid=*", 0, "alice\\29\\28uid=\\2a" },
	{ "*)(|(uid=*", 0, "\\2a\\29\\28|\\28uid=\\2a" },
	{ "admin\\", 0, "admin\\5c" },
	{ "al\\2aice", 0, "al\\5c2aice" }, /* an escape typed by the user stays literal */
	{ "\xc3\xa9t\xc3\xa9", 0, "\\c3\\a9t\\c3\\a9" },
	{ "tab\there\x7f", 0, "tab\\09here\\7f" },
	{ "", 0, "" },
};

static void
test_escape(void)
{
	char out[128];
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		size_t len = escapes[i].len ? escapes[i].len : strlen(escapes[i].in);
		int n = cp_ldap_escape(escapes[i].in, len, out, sizeof(out));
		if (n < 0 || strcmp(out, escapes[i].out) != 0 || (size_t)n != strlen(escapes[i].out)) {
			fprintf(stderr, "escape #%zu: got '%s' (%d), want '%s'\n", i, n < 0 ? "" : out,
				n, escapes[i].out);
			failures++;
		}
	}
	/* exact fit: "\\2a" needs 4 bytes with its NUL; never a partial escape */
	CHECK(cp_ldap_escape("*", 1, out, 4) == 3 && strcmp(out, "\\2a") == 0);
	CHECK(cp_ldap_escape("*", 1, out, 3) == -E2BIG);
	CHECK(cp_ldap_escape("ab", 2, out, 2) == -E2BIG);
	CHECK(cp_ldap_escape("", 0, out, 1) == 0);
}

static void
test_filter(void)
{
	char out[256];
	CHECK(cp_ldap_filter("(uid=%s)", "*)(|(uid=*", "x", out, sizeof(out)) == 0 &&
		strcmp(out, "(uid=\\2a\\29\\28|\\28uid=\\2a)") == 0);
	CHECK(cp_ldap_filter("(&(member=%s)(memberUid=%u))", "uid=a\\,b,dc=x", "a*",
		      out, sizeof(out)) == 0 &&
		strcmp(out, "(&(member=uid=a\\5c,b,dc=x)(memberUid=a\\2a))") == 0);
	CHECK(cp_ldap_filter("(cn=100%%)(uid=%s)", "bob", "bob", out, sizeof(out)) == 0 &&
		strcmp(out, "(cn=100%)(uid=bob)") == 0);
	CHECK(cp_ldap_filter("(uid=%x)", "bob", "bob", out, sizeof(out)) == -EINVAL);
	CHECK(cp_ldap_filter("(uid=bob)%", "bob", "bob", out, sizeof(out)) == -EINVAL);
	CHECK(cp_ldap_filter("(uid=%s)", "bob", "bob", out, 9) == -E2BIG);
	CHECK(cp_ldap_filter("(uid=%s)", "bob", "bob", out, 10) == 0);
}

static struct cp_ldap *
make(struct cp_options *o, const char *map, const char *user_filter)
{
	char *argv[] = { "tide-control", "--ldap-uri", "ldap://127.0.0.1:1", "--ldap-base-dn",
		"dc=tide,dc=test", "--ldap-group-map", (char *)map, "--ldap-user-filter",
		(char *)user_filter, NULL };
	if (cp_options_parse(o, 9, argv) != 0)
		return NULL;
	return cp_ldap_new(o);
}

static unsigned
mapped(const struct cp_ldap *l, const char *const *dns, struct cp_ldap_account *a)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; dns[i]; i++)
		cp_ldap_map_group(l, dns[i], a);
	return a->n_groups;
}

static void
test_map(void)
{
	struct cp_options o;
	struct cp_ldap_account a;
	struct cp_ldap *l = make(&o, " cn=researchers,ou=groups,dc=tide,dc=test = users ;"
				     "netops=admins;;cn=a\\2cb,dc=x=ops", "(uid=%s)");
	CHECK(l != NULL);
	if (!l) {
		cp_options_free(&o);
		return;
	}
	/* a DN key matches the same DN, whatever its spacing, case or escaping */
	CHECK(mapped(l, (const char *const[]){ "CN=Researchers, OU=groups,DC=tide,DC=test",
			     NULL }, &a) == 1 && strcmp(a.groups[0], "users") == 0);
	CHECK(mapped(l, (const char *const[]){ "cn=a\\,b,dc=x", NULL }, &a) == 1 &&
		strcmp(a.groups[0], "ops") == 0);
	/* a CN key matches the first RDN's cn anywhere in the tree, without case */
	CHECK(mapped(l, (const char *const[]){ "cn=NetOps,ou=elsewhere,dc=y", NULL }, &a) == 1 &&
		strcmp(a.groups[0], "admins") == 0);
	/* no match: a DN key elsewhere, cn not first, not cn, not a DN */
	CHECK(mapped(l, (const char *const[]){ "cn=researchers,ou=other,dc=tide,dc=test",
			     "ou=x,cn=netops,dc=y", "uid=netops,dc=y", "netops", "", NULL }, &a) == 0);
	/* several LDAP groups onto the same tide group count once, in map order */
	CHECK(mapped(l, (const char *const[]){ "cn=netops,dc=a", "cn=netops,dc=b",
			     "cn=researchers,ou=groups,dc=tide,dc=test", NULL }, &a) == 2 &&
		strcmp(a.groups[0], "admins") == 0 && strcmp(a.groups[1], "users") == 0);
	cp_ldap_free(l);
	cp_options_free(&o);

	/* refused settings: maps and filters */
	static const char *const bad[][2] = {
		{ "cn=x,dc=y", "(uid=%s)" },           /* no '=tidegroup' after a DN... */
		{ "researchers", "(uid=%s)" },         /* ...or after a CN */
		{ "researchers=Users", "(uid=%s)" },   /* tide group names are lower case */
		{ "=users", "(uid=%s)" },
		{ "researchers=", "(uid=%s)" },
		{ "cn=x,,=users", "(uid=%s)" },        /* not a DN */
		{ "a=users", "uid=%s" },               /* not parenthesised */
		{ "a=users", "(uid=%s)(cn=x)" },       /* two filters */
		{ "a=users", "(uid=%s" },
		{ "a=users", "(uid=alice)" },          /* does not name the user */
		{ "a=users", "(uid=%d)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = make(&o, bad[i][0], bad[i][1]);
		if (l) {
			fprintf(stderr, "accepted map '%s' filter '%s'\n", bad[i][0], bad[i][1]);
			failures++;
			cp_ldap_free(l);
		}
		cp_options_free(&o);
	}
	/* an empty map is allowed (every LDAP login is then refused, with a warning) */
	l = make(&o, "", "(|(uid=%s)(mail=%u))");
	CHECK(l != NULL);
	cp_ldap_free(l);
	cp_options_free(&o);
}

static void
test_empty_password_never_asked(void)
{
	struct cp_options o;
	struct cp_ldap_account a;
	/* port 1 refuses: had the directory been asked, the answer would be "unavailable" */
	struct cp_ldap *l = make(&o, "a=users", "(uid=%s)");
	CHECK(l != NULL);
	if (l) {
		CHECK(cp_ldap_authenticate(l, "alice", "", &a) == -EACCES);
		CHECK(cp_ldap_authenticate(l, "", "pw", &a) == -EINVAL);
		int rc = cp_ldap_authenticate(l, "alice", "pw", &a);
		CHECK(rc != 0 && rc != -EACCES && rc != -ENOENT && rc != -EINVAL);
		cp_ldap_free(l);
	}
	cp_options_free(&o);
}

int
main(void)
{
	tide_log_open(NULL, TIDE_LOG_ERROR); /* the refusals above are meant to be logged */
	test_escape();
	test_filter();
	test_map();
	test_empty_password_never_asked();
	tide_log_close();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("ok: escaping, filters, group map, settings\n");
	return failures ? 1 : 0;
}
