/* test_tide_fs.c — unit tests for the shared helpers (dataplane/util/): mkdir -p, whole writes,
 * the SHA-256 of a file or of a descriptor's remainder, and the monotonic clock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tide_fs.h"
#include "tide_time.h"

static char base[PATH_MAX / 2];

static int
setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "%s/tide_fs.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(base) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_mkdir_p(void **state)
{
	char p[PATH_MAX], f[PATH_MAX]; /* base is at most PATH_MAX / 2 */
	struct stat sb;

	(void)state;
	snprintf(p, sizeof(p), "%s/a/b/c/", base);
	assert_int_equal(tide_mkdir_p(p, 0750), 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0750 & ~umask(022));
	assert_int_equal(tide_mkdir_p(p, 0750), 0); /* existing: fine */
	/* a file in the way is refused with the system's errno */
	snprintf(f, sizeof(f), "%s/file", base);
	int fd = open(f, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/file/sub", base);
	errno = 0;
	assert_int_equal(tide_mkdir_p(p, 0755), -1);
	assert_int_equal(errno, ENOTDIR);
	errno = 0;
	assert_int_equal(tide_mkdir_p("", 0755), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_write_all_and_sha256(void **state)
{
	/* SHA-256("abc") and of 1 MiB + 3 bytes of a pattern (more than one read) */
	static const char abc[] =
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static uint8_t big[(1 << 20) + 3];
	char p[PATH_MAX], hex[65], hex2[65];
	uint64_t size = 0;
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/abc", base);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(tide_write_all(fd, "abc", 3), 0);
	close(fd);
	assert_int_equal(tide_sha256_file(p, 0, hex, &size), 0);
	assert_string_equal(hex, abc);
	assert_int_equal(size, 3);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	snprintf(p, sizeof(p), "%s/big", base);
	fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(tide_write_all(fd, "abc", 3), 0);
	assert_int_equal(tide_write_all(fd, big, sizeof(big)), 0);
	/* from an offset: only the remainder */
	assert_int_equal(lseek(fd, 3, SEEK_SET), 3);
	assert_int_equal(tide_sha256_fd(fd, hex, &size), 0);
	assert_int_equal(size, sizeof(big));
	close(fd);
	snprintf(p, sizeof(p), "%s/big2", base);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_int_equal(tide_write_all(fd, big, sizeof(big)), 0);
	close(fd);
	assert_int_equal(tide_sha256_file(p, 0, hex2, NULL), 0);
	assert_string_equal(hex, hex2);

	/* errors keep errno; O_NOFOLLOW refuses a symlink */
	errno = 0;
	assert_int_equal(tide_sha256_file("/nonexistent/x", 0, hex, NULL), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(p, sizeof(p), "%s/link", base);
	assert_int_equal(symlink("abc", p), 0);
	assert_int_equal(tide_sha256_file(p, 0, hex, NULL), 0);
	assert_string_equal(hex, abc);
	errno = 0;
	assert_int_equal(tide_sha256_file(p, O_NOFOLLOW, hex, NULL), -1);
	assert_int_equal(errno, ELOOP);
	/* a closed descriptor */
	errno = 0;
	assert_int_equal(tide_write_all(-1, "x", 1), -1);
	assert_int_equal(errno, EBADF);
}

static void
test_mono_ms(void **state)
{
	(void)state;
	int64_t a = tide_mono_ms();
	usleep(20000);
	int64_t b = tide_mono_ms();
	assert_true(b - a >= 19);
	assert_true(a > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_write_all_and_sha256),
		cmocka_unit_test(test_mono_ms),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
