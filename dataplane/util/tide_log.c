/* tide_log.c — the logger every tide program uses: one line format, to stderr and optionally a
 * file.
 *
 * Each line is formatted into one buffer and written with a single write(2) per destination
 * (the file is opened O_APPEND), so lines from the civetweb worker threads never interleave.
 * A line is capped at TIDE_LOG_LINE_MAX bytes; longer messages are cut and end in "...". The file
 * descriptor is swapped under a lock on reopen only. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tide_log.h"
#include "tide_fs.h"

#define TIDE_LOG_LINE_MAX 2048

static const char *const level_names[] = {
	[TIDE_LOG_DEBUG] = "debug", [TIDE_LOG_INFO] = "info", [TIDE_LOG_WARN] = "warn",
	[TIDE_LOG_ERROR] = "error",
};

static struct {
	pthread_rwlock_t lock; /* writers of lines take it shared; reopen takes it exclusive */
	int fd;                /* the log file, or -1 */
	char *path;
	enum tide_log_level level;
} log_state = { PTHREAD_RWLOCK_INITIALIZER, -1, NULL, TIDE_LOG_INFO };

int
tide_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

static int
open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int
tide_log_open(const char *path, enum tide_log_level level)
{
	int fd = -1;
	char *copy = NULL;
	if (path) {
		fd = open_file(path);
		if (fd < 0)
			return fd;
		copy = strdup(path);
		if (!copy) {
			close(fd);
			return -ENOMEM;
		}
	}
	pthread_rwlock_wrlock(&log_state.lock);
	if (log_state.fd >= 0)
		close(log_state.fd);
	free(log_state.path);
	log_state.fd = fd;
	log_state.path = copy;
	log_state.level = level;
	pthread_rwlock_unlock(&log_state.lock);
	return 0;
}

int
tide_log_reopen(void)
{
	int rc = 0;
	pthread_rwlock_wrlock(&log_state.lock);
	if (log_state.path) {
		int fd = open_file(log_state.path);
		if (fd < 0) {
			rc = fd; /* keep writing to the old descriptor */
		} else {
			close(log_state.fd);
			log_state.fd = fd;
		}
	}
	pthread_rwlock_unlock(&log_state.lock);
	return rc;
}

void
tide_log_close(void)
{
	pthread_rwlock_wrlock(&log_state.lock);
	if (log_state.fd >= 0)
		close(log_state.fd);
	log_state.fd = -1;
	free(log_state.path);
	log_state.path = NULL;
	pthread_rwlock_unlock(&log_state.lock);
}

const char *
tide_log_path(void)
{
	return log_state.path;
}

/* Control characters (newlines above all) become "\xNN" so one event stays one line. */
static size_t
escape_into(char *dst, size_t cap, const char *src, int *cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (; *src && n + 4 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c < 0x20 || c == 0x7f) {
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		} else {
			dst[n++] = (char)c;
		}
	}
	*cut = *src != '\0';
	return n;
}

void
tide_log(enum tide_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tide_vlog(level, module, fmt, ap);
	va_end(ap);
}

void
tide_vlog(enum tide_log_level level, const char *module, const char *fmt, va_list ap)
{
	if (level < log_state.level || level > TIDE_LOG_ERROR)
		return;
	char msg[TIDE_LOG_LINE_MAX];
	char line[TIDE_LOG_LINE_MAX];
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m < 0)
		return;

	char ts[TIDE_TIME_LEN];
	int n = snprintf(line, sizeof(line), "%s %s %s: ", tide_time_format(tide_wall_ms(), ts),
		level_names[level], module);
	if (n < 0 || (size_t)n >= sizeof(line) - 8)
		return;
	int cut;
	size_t len = (size_t)n + escape_into(line + n, sizeof(line) - (size_t)n - 5, msg, &cut);
	if ((size_t)m >= sizeof(msg) || cut) {
		memcpy(line + len, "...", 3);
		len += 3;
	}
	line[len++] = '\n';

	pthread_rwlock_rdlock(&log_state.lock);
	(void)tide_write_all(STDERR_FILENO, line, len); /* nowhere left to report a failure */
	if (log_state.fd >= 0)
		(void)tide_write_all(log_state.fd, line, len);
	pthread_rwlock_unlock(&log_state.lock);
}
