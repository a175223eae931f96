/* cls_truth.c — ground-truth labels for sessions (see cls_truth.h).
 *
 * Entries are kept in a hash table keyed by the direction-independent 5-tuple; each bucket
 * chain may hold several time windows for a reused 5-tuple. Loaded once, read-only after, so
 * workers may share it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cls_truth.h"

struct truth_entry {
	uint8_t a[16], b[16];
	uint16_t pa, pb;
	uint8_t proto;
	uint64_t t0, t1;              /* window in ns; t1 == 0: always */
	struct cls_truth label;
	uint32_t next;                /* chain, UINT32_MAX = end */
};

struct cls_truth_table {
	struct truth_entry *e;
	size_t n, cap;
	uint32_t *bucket;
	uint32_t n_buckets;
};

static uint32_t
key_hash(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb, uint8_t proto)
{
	/* FNV-1a over the ordered endpoints */
	uint32_t h = 2166136261u;
	const uint8_t *parts[2] = {a, b};
	uint16_t ports[2] = {pa, pb};
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 16; k++)
			h = (h ^ parts[i][k]) * 16777619u;
		h = (h ^ (ports[i] & 0xff)) * 16777619u;
		h = (h ^ (ports[i] >> 8)) * 16777619u;
	}
	return (h ^ proto) * 16777619u;
}

/* order endpoints so either direction gives one key */
static void
canon(const uint8_t *s, uint16_t sp, const uint8_t *d, uint16_t dp, uint8_t *a, uint16_t *pa,
	uint8_t *b, uint16_t *pb)
{
	int c = memcmp(s, d, 16);
	if (c > 0 || (c == 0 && sp > dp)) {
		const uint8_t *t = s;
		uint16_t tp = sp;
		s = d;
		sp = dp;
		d = t;
		dp = tp;
	}
	memcpy(a, s, 16);
	memcpy(b, d, 16);
	*pa = sp;
	*pb = dp;
}

static int
parse_proto(const char *s)
{
	static const struct { const char *n; int v; } names[] = {{"tcp", 6}, {"udp", 17},
		{"sctp", 132}, {"icmp", 1}, {"icmp6", 58}, {"icmpv6", 58}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].n) == 0)
			return names[i].v;
	char *end;
	long v = strtol(s, &end, 10);
	return (*s && !*end && v >= 0 && v <= 255) ? (int)v : -1;
}

static int
parse_addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1)
		return 0;
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

/* split a CSV line in place, keeping empty fields (no quoting: names, numbers and addresses
 * only) */
static int
split(char *line, char **f, int max)
{
	int n = 0;
	line[strcspn(line, "\r\n")] = '\0';
	if (!*line)
		return 0;
	for (char *t; n < max && (t = strsep(&line, ",")) != NULL;) {
		while (*t == ' ')
			t++;
		f[n++] = t;
	}
	return n;
}

enum { C_PROTO, C_SRC, C_SPORT, C_DST, C_DPORT, C_APP, C_SUB, C_T0, C_T1, C_MAX };
static const char *const col_names[C_MAX] = {"proto", "src_ip", "src_port", "dst_ip", "dst_port",
	"app", "sub_app", "first_ts", "last_ts"};

struct cls_truth_table *
cls_truth_load(const char *path, const struct cls_apps *apps, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct cls_truth_table *t = calloc(1, sizeof(*t));
	char line[2048];
	int col[C_MAX];
	unsigned int lineno = 1;
	for (int i = 0; i < C_MAX; i++)
		col[i] = -1;
	if (!t || !fgets(line, sizeof(line), f)) {
		snprintf(err, errlen, "%s: empty file (expected a header line)", path);
		goto fail;
	}
	char *fields[64];
	int nf = split(line, fields, 64);
	for (int i = 0; i < nf; i++)
		for (int c = 0; c < C_MAX; c++)
			if (strcmp(fields[i], col_names[c]) == 0)
				col[c] = i;
	for (int c = 0; c <= C_APP; c++)
		if (col[c] < 0) {
			snprintf(err, errlen, "%s:1: header lacks column '%s'", path, col_names[c]);
			goto fail;
		}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		nf = split(line, fields, 64);
		if (nf == 0 || fields[0][0] == '#')
			continue;
		const char *why = NULL;
		struct truth_entry e;
		memset(&e, 0, sizeof(e));
		uint8_t s[16], d[16];
		int proto = -1;
		char *end;
		for (int c = 0; c <= C_APP; c++)
			if (col[c] >= nf)
				why = "missing fields";
		if (!why && (proto = parse_proto(fields[col[C_PROTO]])) < 0)
			why = "bad proto";
		if (!why && (parse_addr(fields[col[C_SRC]], s) || parse_addr(fields[col[C_DST]], d)))
			why = "bad address";
		unsigned long sp = 0, dp = 0;
		if (!why) {
			sp = strtoul(fields[col[C_SPORT]], &end, 10);
			if (*end || sp > 65535)
				why = "bad src_port";
			dp = strtoul(fields[col[C_DPORT]], &end, 10);
			if (*end || dp > 65535)
				why = "bad dst_port";
		}
		if (!why) {
			e.label.app_id = cls_apps_id(apps, fields[col[C_APP]]);
			if (!e.label.app_id && strcasecmp(fields[col[C_APP]], "unknown") != 0)
				why = "unknown app (not in the application table)";
		}
		if (!why && col[C_SUB] >= 0 && col[C_SUB] < nf && fields[col[C_SUB]][0]) {
			e.label.sub_id = cls_apps_sub_id(apps, e.label.app_id, fields[col[C_SUB]]);
			if (!e.label.sub_id)
				why = "unknown sub_app for that app";
		}
		if (!why && col[C_T0] >= 0 && col[C_T1] >= 0 && col[C_T1] < nf) {
			double t0 = strtod(fields[col[C_T0]], NULL), t1 = strtod(fields[col[C_T1]], NULL);
			e.t0 = (uint64_t)(t0 * 1e9);
			e.t1 = (uint64_t)(t1 * 1e9);
		}
		if (why) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			goto fail;
		}
		canon(s, (uint16_t)sp, d, (uint16_t)dp, e.a, &e.pa, e.b, &e.pb);
		e.proto = (uint8_t)proto;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 1024;
			struct truth_entry *ne = realloc(t->e, cap * sizeof(*ne));
			if (!ne) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			t->e = ne;
			t->cap = cap;
		}
		t->e[t->n++] = e;
	}
	fclose(f);
	f = NULL;
	t->n_buckets = 1;
	while (t->n_buckets < 2 * t->n)
		t->n_buckets <<= 1;
	t->bucket = malloc(sizeof(uint32_t) * t->n_buckets);
	if (!t->bucket) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	memset(t->bucket, 0xff, sizeof(uint32_t) * t->n_buckets);
	for (size_t i = 0; i < t->n; i++) {
		struct truth_entry *e = &t->e[i];
		uint32_t b = key_hash(e->a, e->pa, e->b, e->pb, e->proto) & (t->n_buckets - 1);
		e->next = t->bucket[b];
		t->bucket[b] = (uint32_t)i;
	}
	return t;
fail:
	if (f)
		fclose(f);
	cls_truth_free(t);
	return NULL;
}

void
cls_truth_free(struct cls_truth_table *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->bucket);
	free(t);
}

size_t
cls_truth_count(const struct cls_truth_table *t)
{
	return t ? t->n : 0;
}

int
cls_truth_lookup(const struct cls_truth_table *t, const struct cls_key *k, uint64_t first_ts_ns,
	struct cls_truth *out)
{
	if (!t || !t->n)
		return 0;
	uint8_t a[16], b[16];
	uint16_t pa, pb;
	canon(k->src, k->sport, k->dst, k->dport, a, &pa, b, &pb);
	uint32_t i = t->bucket[key_hash(a, pa, b, pb, k->proto) & (t->n_buckets - 1)];
	/* a small slack: a capture tool's timestamp of the first packet and the label's window
	 * may differ by clock resolution */
	const uint64_t slack = 1000000000ull;
	for (; i != UINT32_MAX; i = t->e[i].next) {
		const struct truth_entry *e = &t->e[i];
		if (e->proto != k->proto || e->pa != pa || e->pb != pb || memcmp(e->a, a, 16) ||
			memcmp(e->b, b, 16))
			continue;
		if (e->t1 && (first_ts_ns + slack < e->t0 || first_ts_ns > e->t1 + slack))
			continue;
		*out = e->label;
		return 1;
	}
	return 0;
}
