/* tide_log.h — the one logger of every tide program (TCI's "Logging Module"): the Hive, the
 * dataplane, the drone and the classifiers write their events through it.
 *
 * One line per event in one format that journald, grep and a human all read:
 *     2026-11-22T08:00:00.123Z info http: GET /api/v1/users 200 1.2ms user=admin
 * Lines go to stderr (journald under systemd) and, when a log file is configured, to that file,
 * which admins download through GET /api/v1/logs. Secrets (passwords, tokens, cookies) are never
 * passed to these functions; control characters in messages are escaped so a user-chosen string
 * cannot forge a second line. */
#ifndef TIDE_LOG_H
#define TIDE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tide_time.h"

enum tide_log_level { TIDE_LOG_DEBUG = 0, TIDE_LOG_INFO, TIDE_LOG_WARN, TIDE_LOG_ERROR };

/* Opens path for appending (mode 0600; NULL = stderr only) and sets the lowest level written.
 * Returns 0 or -errno; on error logging continues on stderr. */
int tide_log_open(const char *path, enum tide_log_level level);
/* Reopens the file after rotation (SIGHUP); safe to call from a normal thread, not a handler. */
int tide_log_reopen(void);
void tide_log_close(void);
/* The path given to tide_log_open, or NULL when logging to stderr only. */
const char *tide_log_path(void);
/* "debug", "info", "warn", "error" → level; -EINVAL otherwise. */
int tide_log_level_parse(const char *name);

void tide_log(enum tide_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tide_vlog(enum tide_log_level level, const char *module, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define tide_debug(mod, ...) tide_log(TIDE_LOG_DEBUG, mod, __VA_ARGS__)
#define tide_info(mod, ...) tide_log(TIDE_LOG_INFO, mod, __VA_ARGS__)
#define tide_warn(mod, ...) tide_log(TIDE_LOG_WARN, mod, __VA_ARGS__)
#define tide_error(mod, ...) tide_log(TIDE_LOG_ERROR, mod, __VA_ARGS__)

#endif
