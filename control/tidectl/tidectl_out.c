/* tidectl_out.c — tables, JSON output, units and the progress bar (see tidectl_out.h).
 *
 * Tables are built in memory and printed once, column widths from the widest cell; tidectl
 * lists are at most a few thousand rows. Units are binary (k = 1024), as tide-dataplane's
 * --max-size reads them. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tidectl_out.h"

struct tc_table {
	size_t ncols, nrows, cap;
	char **cells; /* row-major, header row first */
};

struct tc_table *
tc_table_new(const char *const *headers)
{
	struct tc_table *t = calloc(1, sizeof(*t));
	if (!t)
		abort();
	while (headers[t->ncols])
		t->ncols++;
	tc_table_add(t, headers);
	return t;
}

void
tc_table_add(struct tc_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(char *));
		if (!t->cells)
			abort();
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "-");
		if (!s)
			abort();
		/* one line per row: control characters from the server are shown as '?' */
		for (char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
}

void
tc_table_print(struct tc_table *t, FILE *f)
{
	size_t w[32] = { 0 };
	size_t nc = t->ncols < 32 ? t->ncols : 32;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < nc; i++) {
			size_t l = strlen(t->cells[r * t->ncols + i]);
			if (l > w[i])
				w[i] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < nc; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i + 1 == nc)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", (int)w[i], s);
		}
	}
}

void
tc_table_free(struct tc_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void
tc_kv(FILE *f, const char *key, const char *fmt, ...)
{
	va_list ap;
	fprintf(f, "%-14s ", key);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

void
tc_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

const char *
tc_jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

long long
tc_jint(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return 0;
}

void
tc_jtext(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_true(v))
		snprintf(buf, len, "true");
	else if (json_is_false(v))
		snprintf(buf, len, "false");
	else if (!v || json_is_null(v))
		snprintf(buf, len, "-");
	else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
	}
}

void
tc_fmt_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	unsigned u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

void
tc_fmt_count(double n, char *buf, size_t len)
{
	static const char *const units[] = { "", "k", "M", "G", "T" };
	unsigned u = 0;
	while (n >= 1000 && u < 4) {
		n /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f", n);
	else
		snprintf(buf, len, "%.1f%s", n, units[u]);
}

void
tc_fmt_duration(long long s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

time_t
tc_parse_iso(const char *iso)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!iso || !*iso)
		return -1;
	const char *end = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	return timegm(&tm);
}

void
tc_fmt_time(const char *iso, char *buf, size_t len)
{
	time_t t = tc_parse_iso(iso);
	struct tm tm;
	if (t < 0 || !localtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

double
tc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
tc_progress_start(struct tc_progress *p, const char *label, uint64_t total, uint64_t base,
	bool quiet)
{
	p->on = !quiet && isatty(STDERR_FILENO);
	p->label = label;
	p->total = total;
	p->base = base;
	p->t0 = tc_now();
	p->last = 0;
}

static void
draw(struct tc_progress *p, double frac, const char *text)
{
	char bar[41];
	int fill = (int)(frac * 40 + 0.5);
	if (fill > 40)
		fill = 40;
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[40] = '\0';
	fprintf(stderr, "\r\033[K%.30s [%s] %3.0f%% %s", p->label, bar, frac * 100, text);
	fflush(stderr);
}

void
tc_progress_update(struct tc_progress *p, uint64_t done)
{
	if (!p->on)
		return;
	double now = tc_now();
	if (now - p->last < 0.1 && (p->total == 0 || done < p->total))
		return;
	p->last = now;
	char d[32], r[32], text[160];
	tc_fmt_bytes(done, d, sizeof(d));
	double el = now - p->t0;
	tc_fmt_bytes(el > 0 ? (uint64_t)((double)(done - p->base) / el) : 0, r, sizeof(r));
	if (p->total) {
		char t[32];
		tc_fmt_bytes(p->total, t, sizeof(t));
		snprintf(text, sizeof(text), "%s / %s  %s/s", d, t, r);
		draw(p, (double)done / (double)p->total, text);
	} else {
		fprintf(stderr, "\r\033[K%.30s %s  %s/s", p->label, d, r);
		fflush(stderr);
	}
}

void
tc_progress_frac(struct tc_progress *p, double frac, const char *text)
{
	if (!p->on)
		return;
	draw(p, frac < 0 ? 0 : frac > 1 ? 1 : frac, text);
}

void
tc_progress_end(struct tc_progress *p)
{
	if (p->on) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->on = false;
}
