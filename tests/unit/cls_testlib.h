/* cls_testlib.h — what the classifier unit tests share: the real application table, exact-size
 * heap copies (so ASan sees any over-read), and capturing a plugin's stderr messages. Static
 * functions, chosen by the defines before the include; capture_* need the test's tmp_dir. */
#ifndef CLS_TESTLIB_H
#define CLS_TESTLIB_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_apps.h"

#ifdef CLS_TESTLIB_APPS
static struct cls_apps *
load_apps(void)
{
	static const char *const paths[] = {"config/tide_apps.txt", "../config/tide_apps.txt",
		"../../config/tide_apps.txt", "../../../config/tide_apps.txt",
		"../../../../config/tide_apps.txt"};
	char err[256], path[4096];
	const char *env = getenv("TIDE_APPS"), *root = getenv("TIDE_SOURCE_ROOT");

	if (env)
		return cls_apps_load(env, err, sizeof(err));
	if (root) { /* set by meson: the build directory may be anywhere */
		snprintf(path, sizeof(path), "%s/config/tide_apps.txt", root);
		return cls_apps_load(path, err, sizeof(err));
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct cls_apps *a = cls_apps_load(paths[i], err, sizeof(err));

		if (a)
			return a;
	}
	return NULL;
}

static uint8_t *
dup_exact(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}
#endif

#ifdef CLS_TESTLIB_CAPTURE
static char stderr_buf[8192];
static int saved_stderr = -1;

static void
capture_begin(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.txt", tmp_dir);
	fflush(stderr);
	saved_stderr = dup(2);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0 && saved_stderr >= 0);
	dup2(fd, 2);
	close(fd);
}

static const char *
capture_end(void)
{
	char path[PATH_MAX];
	FILE *f;
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	snprintf(path, sizeof(path), "%s/stderr.txt", tmp_dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(stderr_buf, 1, sizeof(stderr_buf) - 1, f);
	stderr_buf[n] = '\0';
	fclose(f);
	return stderr_buf;
}
#endif

#endif
