/* test_cls_services.c — the service table (classifiers/engine/cls_services.c): every loader
 * error named by file and line, names and ids both ways, and host matching — the longest
 * suffix wins, only on label boundaries, case-insensitively, a trailing dot ignored, an unknown
 * host gives 0 — on small tables written here and on the shipped config/services.txt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cls_services.h"

static char tmpdir[256], config_dir[1024];

static const char *
write_table(const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/services.txt", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static struct cls_services *
load(const char *text)
{
	char err[512];
	struct cls_services *s = cls_services_load(write_table(text), err, sizeof(err));
	if (!s)
		fail_msg("load: %s", err);
	return s;
}

/* the table refuses text at `line` with a message containing `why` */
static void
refused(const char *text, unsigned int line, const char *why)
{
	char err[512], at[32];
	errno = 0;
	assert_null(cls_services_load(write_table(text), err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	snprintf(at, sizeof(at), "services.txt:%u: ", line);
	if (!strstr(err, at) || !strstr(err, why))
		fail_msg("expected '%s%s', got '%s'", at, why, err);
}

static void
test_load_errors(void **st)
{
	(void)st;
	char err[512];
	errno = 0;
	assert_null(cls_services_load("/nonexistent/services.txt", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/services.txt"));

	refused("# c\n\nGoogle google.com\n", 3, "expected '<id> <Name>");
	refused("1\n", 1, "expected '<id> <Name>");
	refused("0 Zero zero.example\n", 1, "1..65535");
	refused("65536 Big big.example\n", 1, "1..65535");
	refused("1 A a.example\n2 B\n", 2, "at least one domain suffix");
	refused("1 ThisNameIsMuchTooLongForTheTable0 a.example\n", 1, "longer than 31");
	refused("1 Unknown a.example\n", 1, "reserved");
	refused("1 A,B a.example\n", 1, "letters, digits");
	refused("1 A a.example\n1 B b.example\n", 2, "id already used");
	refused("1 A a.example\n2 a b.example\n", 2, "name already used");
	refused("1 A a..example\n", 1, "empty label");
	refused("1 A .a.example\n", 1, "empty label");
	refused("1 A a.exa/mple\n", 1, "letters, digits");
	refused("1 A a.example\n2 B b.example\n3 C x.example A.EXAMPLE.\n", 3, "listed twice");
	refused("1 A a.example a.example\n", 1, "listed twice");
	char big[5000];
	memset(big, 'a', sizeof(big));
	memcpy(big, "1 A ", 4);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	refused(big, 1, "line too long");
}

static void
test_names_and_ids(void **st)
{
	(void)st;
	struct cls_services *s = load("# services\n"
				      "7 Google google.com   # trailing comment\n"
				      "9 YouTube youtube.com\n"
				      "7 Google gstatic.com\n");
	assert_int_equal(cls_services_count(s), 2);
	assert_int_equal(cls_services_max_id(s), 9);
	assert_int_equal(cls_services_id(s, "google"), 7);
	assert_int_equal(cls_services_id(s, "YOUTUBE"), 9);
	assert_int_equal(cls_services_id(s, "Netflix"), 0);
	assert_string_equal(cls_services_name(s, 9), "YouTube");
	assert_string_equal(cls_services_name(s, 0), "");
	assert_string_equal(cls_services_name(s, 8), "");
	assert_int_equal(cls_services_match(s, "www.gstatic.com"), 7); /* a continued line */
	cls_services_free(s);
	/* a NULL table (no services.txt) answers nothing */
	assert_int_equal(cls_services_id(NULL, "Google"), 0);
	assert_string_equal(cls_services_name(NULL, 1), "");
	assert_int_equal(cls_services_match(NULL, "www.google.com"), 0);
	assert_int_equal(cls_services_max_id(NULL), 0);
}

static void
test_match(void **st)
{
	(void)st;
	struct cls_services *s = load("1 Google google.com googleapis.com\n"
				      "2 YouTube youtube.com youtubei.googleapis.com\n"
				      "3 Teams teams.microsoft.com\n"
				      "4 Microsoft microsoft.com\n");
	/* the suffix itself and names under it */
	assert_int_equal(cls_services_match(s, "google.com"), 1);
	assert_int_equal(cls_services_match(s, "www.google.com"), 1);
	assert_int_equal(cls_services_match(s, "a.b.c.google.com"), 1);
	/* the longest suffix wins, whatever the file's order */
	assert_int_equal(cls_services_match(s, "youtubei.googleapis.com"), 2);
	assert_int_equal(cls_services_match(s, "x.youtubei.googleapis.com"), 2);
	assert_int_equal(cls_services_match(s, "storage.googleapis.com"), 1);
	assert_int_equal(cls_services_match(s, "eu.teams.microsoft.com"), 3);
	assert_int_equal(cls_services_match(s, "login.microsoft.com"), 4);
	/* label boundaries */
	assert_int_equal(cls_services_match(s, "notgoogle.com"), 0);
	assert_int_equal(cls_services_match(s, "www.notgoogle.com"), 0);
	assert_int_equal(cls_services_match(s, "google.com.evil.example"), 0);
	assert_int_equal(cls_services_match(s, "oogle.com"), 0);
	assert_int_equal(cls_services_match(s, "com"), 0);
	/* case, trailing dot */
	assert_int_equal(cls_services_match(s, "WWW.GooGle.COM"), 1);
	assert_int_equal(cls_services_match(s, "www.google.com."), 1);
	assert_int_equal(cls_services_match(s, "WWW.YOUTUBE.COM."), 2);
	/* nothing to match */
	assert_int_equal(cls_services_match(s, ""), 0);
	assert_int_equal(cls_services_match(s, "."), 0);
	assert_int_equal(cls_services_match(s, "www.example.org"), 0);
	assert_int_equal(cls_services_match(s, "10.0.0.1"), 0);
	assert_int_equal(cls_services_match(s, NULL), 0);
	char longname[400];
	memset(longname, 'a', sizeof(longname));
	snprintf(longname + sizeof(longname) - 12, 12, ".google.com");
	assert_int_equal(cls_services_match(s, longname), 0); /* longer than a DNS name */
	cls_services_free(s);
}

/* The shipped table loads and names the services the mix is expected to show. */
static void
test_shipped_table(void **st)
{
	(void)st;
	char path[1100], err[512];
	snprintf(path, sizeof(path), "%s/services.txt", config_dir);
	struct cls_services *s = cls_services_load(path, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	static const char *const names[] = {"Google", "YouTube", "Netflix", "Facebook",
		"Instagram", "WhatsApp", "Microsoft", "Apple", "Amazon", "AWS", "Cloudflare",
		"Akamai", "Twitter", "TikTok", "Spotify", "Zoom", "Dropbox", "GitHub", "Wikipedia",
		"Telegram", "Discord", "Twitch", "LinkedIn", "Yahoo", "Baidu", "Alibaba"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!cls_services_id(s, names[i]))
			fail_msg("config/services.txt lacks %s", names[i]);
	static const struct {
		const char *host, *service;
	} hosts[] = {
		{"www.google.com", "Google"}, {"fonts.gstatic.com", "Google"},
		{"lhr25s01-in-f14.1e100.net", "Google"}, {"www.youtube.com", "YouTube"},
		{"rr4---sn-5hne6nsk.googlevideo.com", "YouTube"}, {"i.ytimg.com", "YouTube"},
		{"youtu.be", "YouTube"}, {"occ-0-1.1.nflxso.net", "Netflix"},
		{"scontent.cdninstagram.com", "Instagram"}, {"web.whatsapp.com", "WhatsApp"},
		{"static.xx.fbcdn.net", "Facebook"}, {"s3.eu-west-1.amazonaws.com", "AWS"},
		{"d1.cloudfront.net", "AWS"}, {"a.akamaiedge.net", "Akamai"},
		{"github.com", "GitHub"}, {"en.wikipedia.org", "Wikipedia"},
	};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (cls_services_match(s, hosts[i].host) != cls_services_id(s, hosts[i].service))
			fail_msg("%s: expected %s, got '%s'", hosts[i].host, hosts[i].service,
				cls_services_name(s, cls_services_match(s, hosts[i].host)));
	cls_services_free(s);
}

int
main(void)
{
	const char *src = getenv("TIDE_SOURCE_ROOT");
	if (!src) {
		fprintf(stderr, "run through meson test (needs TIDE_SOURCE_ROOT)\n");
		return 1;
	}
	snprintf(config_dir, sizeof(config_dir), "%s/config", src);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tide-services-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_names_and_ids),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_shipped_table),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char path[512];
	snprintf(path, sizeof(path), "%s/services.txt", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return rc;
}
