/* test_cls_hs_cache.c — the on-disk cache of compiled Hyperscan databases
 * (classifiers/dissectors/cls_hs_cache.h): a first compile writes one file, a second identical
 * compile loads it instead (the file is not rewritten) and the loaded database matches what a
 * compiled one matches; a different expression, flag or window is a different key; a corrupt
 * entry falls back to compiling and is replaced; a directory writable by others and
 * TIDE_CACHE_DIR=off are not used; a bad expression still reports its compile error. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>

#include "cls_hs_cache.h"

static char dir[256];

static int
count_entries(char *name, size_t size)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "hs-", 3) == 0) {
			n++;
			if (name)
				snprintf(name, size, "%s/%s", dir, e->d_name);
		}
	closedir(d);
	return n;
}

static void
clear(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
}

static int
on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
	void *ctx)
{
	(void)from;
	(void)to;
	(void)flags;
	*(unsigned int *)ctx |= 1u << id;
	return 0;
}

static hs_database_t *
compile(const char *re0, unsigned int flags0, unsigned long long window)
{
	const char *ex[] = { re0, "^SSH-2\\.0-" };
	unsigned int fl[] = { flags0, HS_FLAG_SINGLEMATCH };
	unsigned int ids[] = { 0, 1 };
	hs_expr_ext_t e = { .flags = HS_EXT_FLAG_MAX_OFFSET, .max_offset = window };
	const hs_expr_ext_t *ext[] = { &e, &e };
	hs_database_t *db = NULL;
	hs_compile_error_t *cerr = NULL;
	hs_error_t rc = cls_hs_compile_cached(ex, fl, ids, ext, 2, HS_MODE_BLOCK, &db, &cerr);
	if (rc != HS_SUCCESS) {
		hs_free_compile_error(cerr);
		return NULL;
	}
	return db;
}

static unsigned int
scan(const hs_database_t *db, const char *data)
{
	hs_scratch_t *s = NULL;
	unsigned int hits = 0;
	assert_int_equal(hs_alloc_scratch(db, &s), HS_SUCCESS);
	assert_int_equal(hs_scan(db, data, (unsigned int)strlen(data), 0, s, on_match, &hits),
		HS_SUCCESS);
	hs_free_scratch(s);
	return hits;
}

static void
test_written_then_loaded(void **state)
{
	(void)state;
	char path[512];
	struct stat a, b;
	clear();
	hs_database_t *db = compile("GET /", HS_FLAG_SINGLEMATCH, 64);
	assert_non_null(db);
	assert_int_equal(count_entries(path, sizeof(path)), 1);
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal(a.st_mode & 0777, 0600);
	/* make the file recognisable: a load must not rewrite it */
	assert_int_equal(chmod(path, 0400), 0);
	hs_database_t *again = compile("GET /", HS_FLAG_SINGLEMATCH, 64);
	assert_non_null(again);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(b.st_ino, a.st_ino);
	assert_int_equal(b.st_mode & 0777, 0400);
	assert_int_equal(count_entries(NULL, 0), 1);
	const char *inputs[] = { "GET / HTTP/1.1", "SSH-2.0-OpenSSH", "nothing", "xGET /" };
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(scan(db, inputs[i]), scan(again, inputs[i]));
	assert_int_equal(scan(again, "GET / HTTP/1.1"), 1u);
	assert_int_equal(scan(again, "SSH-2.0-OpenSSH"), 2u);
	hs_free_database(db);
	hs_free_database(again);
}

static void
test_inputs_change_the_key(void **state)
{
	(void)state;
	clear();
	hs_free_database(compile("GET /", HS_FLAG_SINGLEMATCH, 64));
	hs_free_database(compile("GET /", HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS, 64));
	hs_free_database(compile("GET /", HS_FLAG_SINGLEMATCH, 65));
	hs_free_database(compile("POST /", HS_FLAG_SINGLEMATCH, 64));
	assert_int_equal(count_entries(NULL, 0), 4);
	/* and a caseless database from the cache is caseless */
	hs_database_t *db = compile("GET /", HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS, 64);
	assert_int_equal(scan(db, "get / http/1.0"), 1u);
	hs_free_database(db);
}

static void
test_corrupt_entry_recompiled(void **state)
{
	(void)state;
	char path[512];
	clear();
	hs_free_database(compile("GET /", HS_FLAG_SINGLEMATCH, 64));
	assert_int_equal(count_entries(path, sizeof(path)), 1);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a hyperscan database", f);
	fclose(f);
	hs_database_t *db = compile("GET /", HS_FLAG_SINGLEMATCH, 64);
	assert_non_null(db);
	assert_int_equal(scan(db, "GET /x"), 1u);
	hs_free_database(db);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 100);   /* replaced by a real database */
}

static void
test_unsafe_or_off_not_used(void **state)
{
	(void)state;
	clear();
	assert_int_equal(chmod(dir, 0777), 0);
	hs_database_t *db = compile("GET /", HS_FLAG_SINGLEMATCH, 64);
	assert_non_null(db);
	hs_free_database(db);
	assert_int_equal(count_entries(NULL, 0), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	setenv("TIDE_CACHE_DIR", "off", 1);
	db = compile("GET /", HS_FLAG_SINGLEMATCH, 64);
	assert_non_null(db);
	hs_free_database(db);
	setenv("TIDE_CACHE_DIR", dir, 1);
	assert_int_equal(count_entries(NULL, 0), 0);
}

static void
test_bad_expression_reports(void **state)
{
	(void)state;
	clear();
	assert_null(compile("(unclosed", HS_FLAG_SINGLEMATCH, 64));
	assert_int_equal(count_entries(NULL, 0), 0);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "%s/tide-hs-cache-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR")
		: "/tmp");
	if (!mkdtemp(dir))
		return 1;
	setenv("TIDE_CACHE_DIR", dir, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_written_then_loaded),
		cmocka_unit_test(test_inputs_change_the_key),
		cmocka_unit_test(test_corrupt_entry_recompiled),
		cmocka_unit_test(test_unsafe_or_off_not_used),
		cmocka_unit_test(test_bad_expression_reports),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	clear();
	rmdir(dir);
	return rc;
}
