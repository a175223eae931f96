/* cls_payload.c — payload signatures (config/signatures.txt) matched by Hyperscan: in stream
 * mode over TCP (and SCTP), so an opening split over several segments still matches; in block
 * mode over UDP, one datagram at a time, so a match never spans two datagrams (RTP once came out
 * as WireGuard and as Memcached that way) and ^ is the start of every datagram.
 *
 * File lines, '#' at the start of a line is a comment:
 *   <app>[/<sub>] <fwd|bwd|any> <window N> <confidence 1-100> [evidence=shape] /<regex>/<flags>
 * The regex must match within the first N bytes of that direction's stream, or of a datagram
 * (fwd: from the side that sent the session's first packet). Flags: i (caseless), m
 * (multiline), s (accepted; '.' always matches any byte, payloads are bytes, not lines). Every
 * signature reports at most once per stream or datagram (HS_FLAG_SINGLEMATCH). evidence=shape
 * marks a loose signature (a few fixed bytes, a length): its result says CLS_EV_SHAPE instead of
 * the plugin's CLS_EV_SIGNATURE, so the combiner can weigh it as such. In a datagram, \z is its
 * end, so a signature may fix a message's exact length (a datagram longer than the largest
 * window is scanned one byte past it, so \z never matches a cut datagram).
 *
 * The window is enforced twice: Hyperscan's max_offset drops matches that end past it, and a
 * stream is never fed past the largest window of its database, which also bounds the scanning
 * cost of a session. Three databases: the fwd side (fwd + any), the bwd side (bwd + any), and all
 * signatures, for flow sessions, whose one direction may be a client or a server. One shared
 * database with the direction checked in the match callback compiles 3x faster (0.3 s instead of
 * 0.9 s for the shipped set) but scanned 1.5-2x slower per packet in bench_cls_payload: the
 * scan is what runs at line rate.
 *
 * Per session, the opaque slot (32 bytes) holds a Hyperscan stream pointer per direction, opened
 * at that direction's first payload byte (the only allocation, once per session direction) and
 * closed as soon as the direction is past its window or ended, the session is decided, or a bound
 * is reached; session_free() closes whatever is left. One hs_scratch_t per worker, sized for
 * both modes. UDP sessions open no stream at all: block mode needs no per-session state, which
 * is cheaper than a stream reset per datagram (a reset still needs the stream allocated); the
 * price is a second set of three block-mode databases (compile time and memory, not per packet).
 *
 * Decision: a match of confidence >= PL_SURE decides (FINAL) and closes the streams. A weaker
 * match makes the session ready, so the combiner is never kept waiting, but scanning goes on and
 * a stronger later match replaces it. Several matches: the highest confidence wins, then the
 * earlier line of the file. Give-up bounds: both directions past their windows or ended (TCP
 * FIN/RST), PL_MAX_PAYLOAD_PKTS packets with payload, or PL_MAX_PKTS packets in all; sessions
 * without application ports (ICMP, GRE, host sessions) give up at once. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "cls_hs_cache.h"
#include "cls_apps.h"
#include "cls_file_option.h"
#include "cls_plugin.h"
#include "tide_log.h"

#define PL_FILE_DEFAULT "signatures.txt"
#define PL_SURE 80               /* a match this strong decides the session */
#define PL_MAX_PAYLOAD_PKTS 8    /* give up after this many packets with payload */
#define PL_MAX_PKTS 32           /* ... or this many packets in all (handshakes, bare ACKs) */
#define PL_MAX_SIGS 4096         /* keeps compile time in seconds; best refs are uint16_t */
#define PL_MAX_WINDOW 65536      /* bytes per direction: bounds the scanning cost */
#define PL_LINE_MAX 4096

/* The databases: a biflow's fwd side, its bwd side (values match enum cls_dir), and all
 * signatures for flow sessions. */
enum pl_db { PL_DB_FWD = 0, PL_DB_BWD = 1, PL_DB_ALL = 2, PL_DB_N };
enum pl_sig_dir { PL_SIG_FWD = 0, PL_SIG_BWD = 1, PL_SIG_ANY = 2 };

/* Per-worker counters, folded into the context at worker_free(). */
#define PL_COUNTERS(_) \
	_(PKTS, "payload packets scanned") \
	_(BYTES, "payload bytes scanned") \
	_(BYTES_SKIPPED, "payload bytes not scanned (past the window or direction ended)") \
	_(STREAMS, "streams opened") \
	_(STREAM_FAILS, "stream opens failed (out of memory)") \
	_(SCAN_FAILS, "scans failed") \
	_(DECIDED, "sessions decided by a sure match") \
	_(BOUNDED, "sessions that reached a bound with a weak match or none")

enum pl_counter {
#define PL_ENUM(n, d) PL_C_##n,
	PL_COUNTERS(PL_ENUM)
#undef PL_ENUM
	PL_C_N
};

static const char *const pl_counter_desc[PL_C_N] = {
#define PL_DESC(n, d) d,
	PL_COUNTERS(PL_DESC)
#undef PL_DESC
};

struct pl_sig {
	uint16_t app_id;
	uint16_t sub_id;
	uint8_t confidence;
	uint8_t dir;     /* enum pl_sig_dir */
	uint8_t evidence; /* enum cls_evidence: CLS_EV_SHAPE, or 0 for the plugin's own */
	uint32_t window; /* a match must end within this many bytes of its stream */
	uint32_t line;
};

/* A compiled signature set: replaced as a whole by load_signatures(). */
struct pl_set {
	struct pl_sig *sigs;
	uint32_t n_sigs;
	hs_database_t *db[PL_DB_N];   /* stream mode (TCP); NULL when no signature reads that side */
	hs_database_t *bdb[PL_DB_N];  /* block mode (UDP datagrams), same signatures */
	uint32_t max_window[PL_DB_N]; /* feed no stream of that database past this */
	hs_scratch_t *scratch;        /* prototype, cloned by every worker */
	char path[PATH_MAX];
};

struct pl_ctx {
	const struct cls_apps *apps;
	char default_path[PATH_MAX];
	struct pl_set *set;
	uint32_t workers;   /* live workers: load_signatures() refuses to swap under them */
	uint64_t totals[PL_C_N]; /* folded from workers (atomic adds at worker_free) */
	uint64_t *sig_hits;      /* per signature, folded likewise */
};

/* Per worker, never shared: Hyperscan scratch and counters. */
struct pl_worker {
	hs_scratch_t *scratch;
	uint64_t *sig_hits;
	uint64_t c[PL_C_N];
} __attribute__((aligned(64)));

#define PL_END(dir) (1u << (dir)) /* that direction's stream has nothing more to give */
#define PL_DONE 0x04              /* decided or bounded: streams closed, nothing more to do */

struct pl_state {
	hs_stream_t *stream[2];
	uint32_t seen[2];     /* bytes fed to each direction's stream */
	uint16_t best;        /* 1 + index of the best signature matched so far; 0 none */
	uint8_t payload_pkts; /* saturates at PL_MAX_PAYLOAD_PKTS */
	uint8_t flags;        /* PL_END(dir), PL_DONE */
};
_Static_assert(sizeof(struct pl_state) <= 32, "the payload slot is a per-session cost");

/* ---- loading ---- */

static void __attribute__((format(printf, 3, 4)))
pl_err(const char *path, uint32_t line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		tide_error("payload", "%s:%u: %s", path, line, msg);
	else
		tide_error("payload", "%s: %s", path, msg);
}

static void
pl_set_free(struct pl_set *set)
{
	if (!set)
		return;
	for (int i = 0; i < PL_DB_N; i++) {
		hs_free_database(set->db[i]);
		hs_free_database(set->bdb[i]);
	}
	hs_free_scratch(set->scratch);
	free(set->sigs);
	free(set);
}

static bool
pl_number(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
	char *end;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return false;
	*v = n;
	return true;
}

static const char *
pl_app(const struct cls_apps *apps, const char *name, uint16_t *app, uint16_t *sub)
{
	char base[64];
	const char *slash = strchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : strlen(name);

	if (n == 0 || n >= sizeof(base))
		return "unknown application";
	memcpy(base, name, n);
	base[n] = '\0';
	*app = cls_apps_id(apps, base);
	if (*app == 0)
		return "unknown application";
	*sub = 0;
	/* the table names some subs "App/Sub" and others just "Sub": accept either spelling */
	if (slash && !(*sub = cls_apps_sub_id(apps, *app, name)) &&
		!(*sub = cls_apps_sub_id(apps, *app, slash + 1)))
		return "unknown sub-application";
	return NULL;
}

/* Splits one line into a signature and its regex (pointing into `line`) and Hyperscan flags.
 * 1 for a signature, 0 for a blank or comment line, -EINVAL with the reason printed. */
static int
pl_parse_line(const struct cls_apps *apps, char *line, uint32_t lineno, const char *path,
	struct pl_sig *sig, char **regex, unsigned int *hs_flags)
{
	char *tok[4], *p = line;
	unsigned long v;
	const char *why;

	p += strspn(p, " \t");
	if (*p == '\0' || *p == '#' || *p == '\n' || *p == '\r')
		return 0;
	for (int i = 0; i < 4; i++) {
		size_t len = strcspn(p, " \t\r\n");

		if (len == 0) {
			pl_err(path, lineno, "expected '<app>[/<sub>] <fwd|bwd|any> <window> "
				"<confidence> /<regex>/<flags>'");
			return -EINVAL;
		}
		tok[i] = p;
		p += len;
		if (*p)
			*p++ = '\0';
		p += strspn(p, " \t");
	}
	memset(sig, 0, sizeof(*sig));
	sig->line = lineno;
	if ((why = pl_app(apps, tok[0], &sig->app_id, &sig->sub_id))) {
		pl_err(path, lineno, "%s '%s'", why, tok[0]);
		return -EINVAL;
	}
	if (strcmp(tok[1], "fwd") == 0)
		sig->dir = PL_SIG_FWD;
	else if (strcmp(tok[1], "bwd") == 0)
		sig->dir = PL_SIG_BWD;
	else if (strcmp(tok[1], "any") == 0)
		sig->dir = PL_SIG_ANY;
	else {
		pl_err(path, lineno, "direction must be fwd, bwd or any, not '%s'", tok[1]);
		return -EINVAL;
	}
	if (!pl_number(tok[2], 1, PL_MAX_WINDOW, &v)) {
		pl_err(path, lineno, "window must be 1-%d bytes, not '%s'", PL_MAX_WINDOW, tok[2]);
		return -EINVAL;
	}
	sig->window = (uint32_t)v;
	if (!pl_number(tok[3], 1, 100, &v)) {
		pl_err(path, lineno, "confidence must be 1-100, not '%s'", tok[3]);
		return -EINVAL;
	}
	sig->confidence = (uint8_t)v;

	/* Optional attributes before the regex. */
	while (*p && *p != '/') {
		size_t len = strcspn(p, " \t\r\n");

		if (len == 14 && strncmp(p, "evidence=shape", len) == 0)
			sig->evidence = CLS_EV_SHAPE;
		else if (len == 18 && strncmp(p, "evidence=signature", len) == 0)
			sig->evidence = 0;
		else if (!memchr(p, '=', len)) {
			pl_err(path, lineno, "expected /<regex>/<flags> after the confidence");
			return -EINVAL;
		} else {
			pl_err(path, lineno, "unknown attribute '%.*s' (known: evidence=shape, "
				"evidence=signature)", (int)(len < 64 ? len : 64), p);
			return -EINVAL;
		}
		p += len;
		p += strspn(p, " \t");
	}

	/* The regex runs from the first '/' to the last one; flags follow, then only blanks. */
	char *end = p + strlen(p);
	while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	char *last = strrchr(p, '/');
	if (*p != '/' || last == p) {
		pl_err(path, lineno, "expected /<regex>/<flags> after the confidence");
		return -EINVAL;
	}
	if (last == p + 1) {
		pl_err(path, lineno, "empty regex");
		return -EINVAL;
	}
	*hs_flags = HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL;
	for (const char *f = last + 1; *f; f++) {
		if (*f == 'i')
			*hs_flags |= HS_FLAG_CASELESS;
		else if (*f == 'm')
			*hs_flags |= HS_FLAG_MULTILINE;
		else if (*f != 's') {
			pl_err(path, lineno, "unknown regex flag '%c' (known: i, m, s)", *f);
			return -EINVAL;
		}
	}
	*last = '\0';
	*regex = p + 1;
	return 1;
}

/* Compiles the signatures that read one side into a stream-mode (TCP) and a block-mode (UDP)
 * database. */
static int
pl_compile(struct pl_set *set, enum pl_db which, char *const *regex, const unsigned int *flags,
	const char *path)
{
	uint32_t n = 0, m = set->n_sigs ? set->n_sigs : 1;
	const char **ex = calloc(m, sizeof(*ex));
	unsigned int *fl = calloc(m, sizeof(*fl));
	unsigned int *ids = calloc(m, sizeof(*ids));
	hs_expr_ext_t *ext = calloc(m, sizeof(*ext));
	const hs_expr_ext_t **extp = calloc(m, sizeof(*extp));
	hs_compile_error_t *cerr = NULL;
	hs_database_t *sdb = NULL, *bdb = NULL;
	int rc = 0;

	if (!ex || !fl || !ids || !ext || !extp) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < set->n_sigs; i++) {
		const struct pl_sig *s = &set->sigs[i];

		if (which != PL_DB_ALL && s->dir != PL_SIG_ANY && s->dir != (uint8_t)which)
			continue;
		ex[n] = regex[i];
		fl[n] = flags[i];
		ids[n] = i;
		ext[n].flags = HS_EXT_FLAG_MAX_OFFSET;
		ext[n].max_offset = s->window;
		extp[n] = &ext[n];
		if (s->window > set->max_window[which])
			set->max_window[which] = s->window;
		n++;
	}
	if (n == 0)
		goto out;
	/* through the on-disk cache: compiling is seconds, loading milliseconds */
	if (cls_hs_compile_cached(ex, fl, ids, extp, n, HS_MODE_STREAM, &sdb, &cerr) == HS_SUCCESS)
		set->db[which] = sdb;
	if (!set->db[which] ||
		cls_hs_compile_cached(ex, fl, ids, extp, n, HS_MODE_BLOCK, &bdb, &cerr) !=
		    HS_SUCCESS) {
		if (cerr && cerr->expression >= 0 && (uint32_t)cerr->expression < n)
			pl_err(path, set->sigs[ids[cerr->expression]].line, "bad regex /%s/: %s",
				ex[cerr->expression], cerr->message);
		else
			pl_err(path, 0, "Hyperscan: %s", cerr ? cerr->message : "compile failed");
		hs_free_compile_error(cerr);
		rc = -EINVAL;
		goto out;
	}
	set->bdb[which] = bdb;
	if (hs_alloc_scratch(set->db[which], &set->scratch) != HS_SUCCESS ||
		hs_alloc_scratch(set->bdb[which], &set->scratch) != HS_SUCCESS) {
		pl_err(path, 0, "Hyperscan: cannot allocate scratch");
		rc = -ENOMEM;
	}
out:
	free(ex);
	free(fl);
	free(ids);
	free(ext);
	free(extp);
	return rc;
}

static int
pl_load(const struct cls_apps *apps, const char *path, struct pl_set **out)
{
	FILE *f = fopen(path, "r");
	struct pl_set *set = NULL;
	char **regex = NULL;
	unsigned int *flags = NULL;
	uint32_t cap = 0, lineno = 0;
	char line[PL_LINE_MAX];
	int rc = 0;

	if (!f) {
		rc = -errno;
		pl_err(path, 0, "%s", strerror(errno));
		return rc;
	}
	set = calloc(1, sizeof(*set));
	if (!set) {
		rc = -ENOMEM;
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		struct pl_sig sig;
		char *re;
		unsigned int fl;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			pl_err(path, lineno, "line longer than %d bytes", PL_LINE_MAX - 1);
			rc = -EINVAL;
			goto out;
		}
		rc = pl_parse_line(apps, line, lineno, path, &sig, &re, &fl);
		if (rc < 0)
			goto out;
		if (rc == 0)
			continue;
		rc = 0;
		if (set->n_sigs == PL_MAX_SIGS) {
			pl_err(path, lineno, "more than %d signatures", PL_MAX_SIGS);
			rc = -E2BIG;
			goto out;
		}
		if (set->n_sigs == cap) {
			uint32_t ncap = cap ? cap * 2 : 64;
			struct pl_sig *ns = realloc(set->sigs, ncap * sizeof(*ns));
			char **nr;
			unsigned int *nf;

			if (ns)
				set->sigs = ns;
			nr = ns ? realloc(regex, ncap * sizeof(*nr)) : NULL;
			if (nr)
				regex = nr;
			nf = nr ? realloc(flags, ncap * sizeof(*nf)) : NULL;
			if (!nf) {
				rc = -ENOMEM;
				goto out;
			}
			flags = nf;
			cap = ncap;
		}
		regex[set->n_sigs] = strdup(re);
		if (!regex[set->n_sigs]) {
			rc = -ENOMEM;
			goto out;
		}
		flags[set->n_sigs] = fl;
		set->sigs[set->n_sigs++] = sig;
	}
	if (ferror(f)) {
		rc = -EIO;
		pl_err(path, 0, "read error");
		goto out;
	}
	/* "all" first: it holds every signature, so a bad regex is reported on its own line. */
	rc = pl_compile(set, PL_DB_ALL, regex, flags, path);
	if (!rc)
		rc = pl_compile(set, PL_DB_FWD, regex, flags, path);
	if (!rc)
		rc = pl_compile(set, PL_DB_BWD, regex, flags, path);
out:
	fclose(f);
	for (uint32_t i = 0; regex && set && i < set->n_sigs; i++)
		free(regex[i]);
	free(regex);
	free(flags);
	if (rc == -ENOMEM)
		pl_err(path, 0, "out of memory");
	if (rc) {
		pl_set_free(set);
		return rc;
	}
	snprintf(set->path, sizeof(set->path), "%s", path);
	*out = set;
	return 0;
}

/* ---- per packet ---- */

struct pl_match {
	const struct pl_sig *sigs;
	uint64_t *hits;
	uint16_t best;
};

static bool
pl_better(const struct pl_sig *sigs, uint32_t cand, uint16_t best)
{
	if (!best)
		return true;
	if (sigs[cand].confidence != sigs[best - 1].confidence)
		return sigs[cand].confidence > sigs[best - 1].confidence;
	return cand < (uint32_t)(best - 1); /* the earlier line wins a tie */
}

static int
pl_on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
	void *ctx)
{
	struct pl_match *m = ctx;

	(void)from;
	(void)flags;
	if (to > m->sigs[id].window) /* max_offset already drops these; the window is the rule */
		return 0;
	m->hits[id]++;
	if (pl_better(m->sigs, id, m->best))
		m->best = (uint16_t)(id + 1);
	return 0; /* keep scanning: a stronger signature may end later in this packet */
}

static void
pl_close_dir(struct pl_state *st, unsigned int dir)
{
	if (st->stream[dir]) {
		hs_close_stream(st->stream[dir], NULL, NULL, NULL);
		st->stream[dir] = NULL;
	}
	st->flags |= PL_END(dir);
}

static void
pl_finish(struct pl_state *st)
{
	pl_close_dir(st, 0);
	pl_close_dir(st, 1);
	st->flags |= PL_DONE;
}

/* Sessions our signatures can say something about: tcp, udp, sctp; not host aggregates. */
static bool
pl_scannable(const struct pl_ctx *c, const struct cls_session *s)
{
	uint8_t pr = s->key.proto;

	return c->set && s->type != CLS_SESSION_HOST && (pr == 6 || pr == 17 || pr == 132);
}

static void
pl_scan(const struct pl_set *set, struct pl_worker *w, struct pl_state *st, unsigned int dir,
	enum pl_db which, const uint8_t *data, uint32_t len)
{
	uint32_t maxw = set->max_window[which];
	struct pl_match m = { .sigs = set->sigs, .hits = w->sig_hits, .best = st->best };
	uint32_t n;

	if (!set->db[which] || st->seen[dir] >= maxw) {
		w->c[PL_C_BYTES_SKIPPED] += len;
		pl_close_dir(st, dir);
		return;
	}
	if (!st->stream[dir]) {
		if (hs_open_stream(set->db[which], 0, &st->stream[dir]) != HS_SUCCESS) {
			st->stream[dir] = NULL;
			w->c[PL_C_STREAM_FAILS]++;
			pl_close_dir(st, dir);
			return;
		}
		w->c[PL_C_STREAMS]++;
	}
	n = maxw - st->seen[dir] < len ? maxw - st->seen[dir] : len;
	if (hs_scan_stream(st->stream[dir], (const char *)data, n, 0, w->scratch, pl_on_match,
		    &m) != HS_SUCCESS) {
		w->c[PL_C_SCAN_FAILS]++;
		pl_close_dir(st, dir);
		return;
	}
	st->seen[dir] += n;
	st->best = m.best;
	w->c[PL_C_PKTS]++;
	w->c[PL_C_BYTES] += n;
	w->c[PL_C_BYTES_SKIPPED] += len - n;
	if (st->seen[dir] >= maxw)
		pl_close_dir(st, dir);
}

/* One datagram on its own (block mode): ^ is its first byte, \z its last. Only the first
 * max_window + 1 bytes are scanned: every match must end within a window anyway, and the extra
 * byte keeps \z from matching where a longer datagram was cut. No per-session state but best. */
static void
pl_scan_datagram(const struct pl_set *set, struct pl_worker *w, struct pl_state *st,
	enum pl_db which, const uint8_t *data, uint32_t len)
{
	uint32_t maxw = set->max_window[which];
	struct pl_match m = { .sigs = set->sigs, .hits = w->sig_hits, .best = st->best };
	uint32_t n = len > maxw ? maxw + 1 : len;

	if (!set->bdb[which]) {
		w->c[PL_C_BYTES_SKIPPED] += len;
		return;
	}
	if (hs_scan(set->bdb[which], (const char *)data, n, 0, w->scratch, pl_on_match, &m) !=
		HS_SUCCESS) {
		w->c[PL_C_SCAN_FAILS]++;
		return;
	}
	st->best = m.best;
	w->c[PL_C_PKTS]++;
	w->c[PL_C_BYTES] += n;
	w->c[PL_C_BYTES_SKIPPED] += len - n;
}

/* Datagram protocols: each packet is a message of its own (UDP, UDP-Lite). */
static bool
pl_datagram(uint8_t l4proto)
{
	return l4proto == 17 || l4proto == 136;
}

static void
pl_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct pl_ctx *c = ctx;
	struct pl_worker *w = wctx;
	struct pl_state *st = state;
	const struct pl_set *set = c->set;
	unsigned int dir = p->dir == CLS_DIR_BWD;

	if (st->flags & PL_DONE)
		return;
	if (!w || !w->scratch || !pl_scannable(c, s)) {
		pl_finish(st);
		return;
	}
	/* A flow session is one direction, client or server: it is scanned with every
	 * signature, and its (empty) other direction counts as ended. */
	enum pl_db which = s->type == CLS_SESSION_FLOW ? PL_DB_ALL : (enum pl_db)dir;
	if (s->type == CLS_SESSION_FLOW)
		st->flags |= PL_END(1u - dir);

	if (p->payload_len && p->payload) {
		if (st->payload_pkts < PL_MAX_PAYLOAD_PKTS)
			st->payload_pkts++;
		if (st->flags & PL_END(dir))
			w->c[PL_C_BYTES_SKIPPED] += p->payload_len;
		else if (pl_datagram(p->l4proto))
			pl_scan_datagram(set, w, st, which, p->payload, p->payload_len);
		else
			pl_scan(set, w, st, dir, which, p->payload, p->payload_len);
	}
	if (p->l4proto == 6 && (p->tcp_flags & 0x04)) /* RST: neither side sends more */
		st->flags |= PL_END(0) | PL_END(1);
	else if (p->l4proto == 6 && (p->tcp_flags & 0x01)) /* FIN: this side sends no more */
		pl_close_dir(st, dir);

	if (st->best && set->sigs[st->best - 1].confidence >= PL_SURE) {
		w->c[PL_C_DECIDED]++;
		pl_finish(st);
	} else if ((st->flags & (PL_END(0) | PL_END(1))) == (PL_END(0) | PL_END(1)) ||
		st->payload_pkts >= PL_MAX_PAYLOAD_PKTS || p->index + 1 >= PL_MAX_PKTS) {
		w->c[PL_C_BOUNDED]++;
		pl_finish(st);
	}
}

static bool
pl_is_session_classifiable(void *ctx, void *state, const struct cls_session *s)
{
	const struct pl_state *st = state;

	return st->best || (st->flags & PL_DONE) || !pl_scannable(ctx, s);
}

static void
pl_classify_session(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct pl_ctx *c = ctx;
	const struct pl_state *st = state;

	out->label[0] = '\0';
	if (st->best && c->set) {
		const struct pl_sig *sig = &c->set->sigs[st->best - 1];

		out->app_id = sig->app_id;
		out->sub_id = sig->sub_id;
		out->confidence = sig->confidence;
		out->evidence = sig->evidence;
		/* a weak match may still be replaced while scanning goes on */
		out->flags = (sig->confidence >= PL_SURE || (st->flags & PL_DONE)) ? CLS_RES_FINAL : 0;
		return;
	}
	out->app_id = 0;
	out->sub_id = 0;
	out->confidence = 0;
	out->evidence = 0;
	out->flags = CLS_RES_GAVE_UP;
	if ((st->flags & PL_DONE) || !pl_scannable(c, s))
		out->flags |= CLS_RES_FINAL;
}

static void
pl_session_free(void *ctx, void *wctx, void *state)
{
	struct pl_state *st = state;

	(void)ctx;
	(void)wctx;
	pl_close_dir(st, 0);
	pl_close_dir(st, 1);
}

/* ---- life cycle ---- */

/* Checks the prerequisites and remembers where the signatures are; load_signatures() compiles
 * them (once: the engine calls it right after enable()).
 * options: "file=<path>" overrides <config_dir>/signatures.txt. */
static int
pl_enable(void **ctxp, const struct cls_config *cfg)
{
	struct pl_ctx *c;

	if (!cfg || !cfg->apps)
		return -EINVAL;
	if (hs_valid_platform() != HS_SUCCESS) {
		tide_error("payload", "this CPU cannot run Hyperscan (needs SSSE3)");
		return -ENOTSUP;
	}
	char path[sizeof(((struct pl_ctx *)0)->default_path)];
	int rc = cls_file_option(cfg, "cls_payload", PL_FILE_DEFAULT, path, sizeof(path));
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->apps = cfg->apps;
	memcpy(c->default_path, path, sizeof(path));
	*ctxp = c;
	return 0;
}

static void
pl_disable(void *ctx)
{
	struct pl_ctx *c = ctx;

	if (!c)
		return;
	pl_set_free(c->set);
	free(c->sig_hits);
	free(c);
}

/* Compiles the signatures in path (NULL: the "file" option, else <config_dir>/signatures.txt),
 * replacing the current set; on any error the current set stays and the reason is printed with
 * its file:line (and Hyperscan's message for a bad regex). Only before workers start (-EBUSY
 * otherwise): their scratch and the sessions' streams belong to the set they started with. */
static int
pl_load_signatures(void *ctx, const char *path)
{
	struct pl_ctx *c = ctx;
	struct pl_set *set = NULL;
	uint64_t *hits;
	int rc;

	if (__atomic_load_n(&c->workers, __ATOMIC_ACQUIRE))
		return -EBUSY;
	if (!path)
		path = c->default_path;
	if (!path[0])
		return -EINVAL;
	rc = pl_load(c->apps, path, &set);
	if (rc)
		return rc;
	hits = calloc(set->n_sigs + 1, sizeof(*hits));
	if (!hits) {
		pl_set_free(set);
		return -ENOMEM;
	}
	pl_set_free(c->set);
	free(c->sig_hits);
	c->set = set;
	c->sig_hits = hits;
	return 0;
}

static void *
pl_worker_init(void *ctx)
{
	struct pl_ctx *c = ctx;
	struct pl_worker *w = aligned_alloc(64, sizeof(*w));

	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	if (c->set) {
		w->sig_hits = calloc(c->set->n_sigs + 1, sizeof(*w->sig_hits));
		if (!w->sig_hits || (c->set->scratch &&
			hs_clone_scratch(c->set->scratch, &w->scratch) != HS_SUCCESS)) {
			free(w->sig_hits);
			free(w);
			return NULL;
		}
	}
	__atomic_add_fetch(&c->workers, 1, __ATOMIC_ACQ_REL);
	return w;
}

static void
pl_worker_free(void *ctx, void *wctx)
{
	struct pl_ctx *c = ctx;
	struct pl_worker *w = wctx;

	if (!w)
		return;
	for (int i = 0; i < PL_C_N; i++)
		__atomic_add_fetch(&c->totals[i], w->c[i], __ATOMIC_RELAXED);
	for (uint32_t i = 0; c->set && w->sig_hits && i < c->set->n_sigs; i++)
		__atomic_add_fetch(&c->sig_hits[i], w->sig_hits[i], __ATOMIC_RELAXED);
	hs_free_scratch(w->scratch);
	free(w->sig_hits);
	free(w);
	__atomic_sub_fetch(&c->workers, 1, __ATOMIC_ACQ_REL);
}

/* Totals of the workers freed so far, then how often each signature matched. */
static int
pl_dump_statistics(void *ctx, FILE *out)
{
	const struct pl_ctx *c = ctx;
	const struct pl_set *set = c->set;
	size_t ssz[PL_DB_N] = { 0 };

	if (!set)
		return fprintf(out, "payload: no signatures loaded\n") < 0 ? -EIO : 0;
	for (int i = 0; i < PL_DB_N; i++)
		if (set->db[i])
			hs_stream_size(set->db[i], &ssz[i]);
	fprintf(out, "payload: %u signatures from %s; stream state %zu/%zu/%zu bytes "
		     "(fwd/bwd/flow), windows %u/%u/%u\n",
		set->n_sigs, set->path, ssz[PL_DB_FWD], ssz[PL_DB_BWD], ssz[PL_DB_ALL],
		set->max_window[PL_DB_FWD], set->max_window[PL_DB_BWD],
		set->max_window[PL_DB_ALL]);
	for (int i = 0; i < PL_C_N; i++)
		fprintf(out, "payload: %-12llu %s\n", (unsigned long long)c->totals[i],
			pl_counter_desc[i]);
	for (uint32_t i = 0; i < set->n_sigs; i++)
		fprintf(out, "payload: signature %s:%u %s hits %llu\n", set->path,
			set->sigs[i].line,
			cls_apps_name(c->apps, set->sigs[i].app_id, set->sigs[i].sub_id),
			(unsigned long long)c->sig_hits[i]);
	return ferror(out) ? -EIO : 0;
}

const struct cls_plugin cls_plugin_payload = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_SIGNATURE,
	.name = "payload",
	.version = "1.0.0",
	.state_size = sizeof(struct pl_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = pl_enable,
	.disable = pl_disable,
	.load_signatures = pl_load_signatures,
	.worker_init = pl_worker_init,
	.worker_free = pl_worker_free,
	.packet = pl_packet,
	.is_session_classifiable = pl_is_session_classifiable,
	.classify_session = pl_classify_session,
	.session_free = pl_session_free,
	.dump_statistics = pl_dump_statistics,
};
