/* cp_log.h — tide-control's logging module (TCI's "Logging Module").
 *
 * One line per event in one format that journald, grep and a human all read:
 *     2026-11-22T08:00:00.123Z info http: GET /api/v1/users 200 1.2ms user=admin
 * Lines go to stderr (journald under systemd) and, when a log file is configured, to that file,
 * which admins download through GET /api/v1/logs. Secrets (passwords, tokens, cookies) are never
 * passed to these functions; control characters in messages are escaped so a user-chosen string
 * cannot forge a second line. */
#ifndef CP_LOG_H
#define CP_LOG_H

#include <stddef.h>
#include <stdint.h>

enum cp_log_level { CP_LOG_DEBUG = 0, CP_LOG_INFO, CP_LOG_WARN, CP_LOG_ERROR };

/* Opens path for appending (mode 0600; NULL = stderr only) and sets the lowest level written.
 * Returns 0 or -errno; on error logging continues on stderr. */
int cp_log_open(const char *path, enum cp_log_level level);
/* Reopens the file after rotation (SIGHUP); safe to call from a normal thread, not a handler. */
int cp_log_reopen(void);
void cp_log_close(void);
/* The path given to cp_log_open, or NULL when logging to stderr only. */
const char *cp_log_path(void);
/* "debug", "info", "warn", "error" → level; -EINVAL otherwise. */
int cp_log_level_parse(const char *name);

void cp_log(enum cp_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define cp_debug(mod, ...) cp_log(CP_LOG_DEBUG, mod, __VA_ARGS__)
#define cp_info(mod, ...) cp_log(CP_LOG_INFO, mod, __VA_ARGS__)
#define cp_warn(mod, ...) cp_log(CP_LOG_WARN, mod, __VA_ARGS__)
#define cp_error(mod, ...) cp_log(CP_LOG_ERROR, mod, __VA_ARGS__)

/* Time, shared by the log and the API so both print instants the same way. */
#define CP_TIME_LEN 25 /* "2026-11-22T08:00:00.123Z" + NUL */
int64_t cp_now_ms(void);
/* Formats milliseconds since the epoch as UTC ISO 8601 with milliseconds; returns buf. */
char *cp_time_format(int64_t ms, char buf[CP_TIME_LEN]);

#endif
