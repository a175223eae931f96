/* tidectl_out.h — how tidectl shows things: aligned tables for people, JSON for scripts,
 * sizes and durations both ways (10G, 1h30m), and a progress bar on a terminal. */
#ifndef TIDECTL_OUT_H
#define TIDECTL_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

struct tc_table;

/* headers: NULL-terminated. Cells are copied. */
struct tc_table *tc_table_new(const char *const *headers);
void tc_table_add(struct tc_table *t, const char *const *cells);
void tc_table_print(struct tc_table *t, FILE *f);
void tc_table_free(struct tc_table *t);
/* "key: value" lines, keys aligned. */
void tc_kv(FILE *f, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void tc_print_json(const json_t *j);

/* Field access that never fails: "" / "-" / 0 for missing or null members. */
const char *tc_jstr(const json_t *o, const char *key);
long long tc_jint(const json_t *o, const char *key);
/* A member shown as text whatever its type (numbers, booleans, null as "-"). */
void tc_jtext(const json_t *v, char *buf, size_t len);

/* 1536 -> "1.5 KiB"; 1e6/s -> "1.0 M" (decimal, for rates). */
void tc_fmt_bytes(uint64_t n, char *buf, size_t len);
void tc_fmt_count(double n, char *buf, size_t len);
void tc_fmt_duration(long long secs, char *buf, size_t len);
/* Short local time from an ISO-8601 UTC string ("2026-11-22 10:46:30"), or "-". */
void tc_fmt_time(const char *iso, char *buf, size_t len);
/* ISO-8601 UTC ("2026-11-22T10:46:30.541Z") to a time_t; -1 if not one. */
time_t tc_parse_iso(const char *iso);


/* A progress bar on stderr, drawn only when stderr is a terminal (at most 10 times a second). */
struct tc_progress {
	bool on;
	const char *label;
	uint64_t total;   /* 0 = unknown: bytes and rate only */
	double t0, last;
	uint64_t base;    /* bytes already there when resuming: not counted in the rate */
};
void tc_progress_start(struct tc_progress *p, const char *label, uint64_t total, uint64_t base,
	bool quiet);
void tc_progress_update(struct tc_progress *p, uint64_t done);
/* A fraction 0..1 and a text after the bar (jobs wait). */
void tc_progress_frac(struct tc_progress *p, double frac, const char *text);
void tc_progress_end(struct tc_progress *p);
double tc_now(void);

#endif
