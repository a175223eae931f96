/* cls_tls.c — TLS over TCP dissector: finds the ClientHello (server name, first ALPN protocol)
 * at the start of the client's stream, or failing that the server's ServerHello; labels the
 * session with the SNI and tells HTTP/2 and HTTP/1.1 apart by ALPN.
 *
 * Why it is shaped this way: most ClientHellos sit in one record in the first segment and are
 * parsed in place, with no copy. Post-quantum key shares (~1.2 KB for X25519MLKEM768) push
 * modern ones over one MSS, so a session may borrow a buffer from its worker's pool and
 * de-frame up to CLS_TLS_REASM_MAX bytes of handshake into it; the buffer goes back when the
 * session decides. The give-up bound is TLS_MAX_PKTS payload segments per direction, or the
 * buffer filling up. cls_packet has no TCP sequence number, so only in-order delivery is
 * handled: an exact retransmission of the previous segment is skipped, and anything else out of
 * order breaks the record or hello structure, which this parser rejects — i.e. gives up.
 *
 * A capture that begins after the handshake (or a session whose handshake we missed) still shows
 * TLS's record layer: a direction whose first segment starts with an application_data record
 * (type 23, version 3.1-3.3) is walked record by record — each header (type 20-23, version 3.x,
 * length 1..CLS_TLS_REC_MAX) must start exactly where the previous record's length says, across
 * segments. TLS_DATA_RECORDS consistent headers over two or more segments (either direction)
 * make it TLS at TLS_DATA_CONFIDENCE with evidence CLS_EV_SIGNATURE — the record framing, not a
 * parsed handshake — which beats a port guess (XMPP's 5222 carried such sessions). The walk
 * keeps only the de-framer's 8 bytes per direction.
 *
 * Also here: the pure ClientHello/ServerHello parsers the QUIC dissector reuses, and the
 * reassembly pool the TLS, QUIC and HTTP plugins share (see cls_dissect.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define CLS_TLS_REASM_MAX 16384   /* handshake bytes kept per session: any real ClientHello */
#define TLS_MAX_PKTS 6            /* payload segments per direction before giving up */
#define TLS_POOL_BUFS 256         /* default buffers per worker (4 MiB); option reasm_bufs=N */
#define TLS_HELLO_BODY_MAX 65535  /* a longer "ClientHello" is noise, not a handshake */
#define TLS_DATA_RECORDS 3        /* record headers in line before mid-session TLS is said */
#define TLS_DATA_CONFIDENCE 70
#define TLS_REC_APP_DATA 23

/* ================================================================ reassembly pool */

struct cls_reasm_pool {
	uint32_t n, buf_size;
	uint32_t n_free;
	uint32_t *free_idx;  /* stack of free slots */
	uint32_t *gen;       /* bumped at every loan: a ticket with an older gen is stale */
	uint64_t *last_ns;   /* last use, for taking over abandoned slots */
	uint8_t *lent;
	uint8_t *mem;
};

struct cls_reasm_pool *
cls_reasm_pool_new(uint32_t n, uint32_t buf_size)
{
	struct cls_reasm_pool *pool;

	if (n == 0 || buf_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->n = n;
	pool->buf_size = buf_size;
	pool->free_idx = calloc(n, sizeof(*pool->free_idx));
	pool->gen = calloc(n, sizeof(*pool->gen));
	pool->last_ns = calloc(n, sizeof(*pool->last_ns));
	pool->lent = calloc(n, 1);
	pool->mem = malloc((size_t)n * buf_size);
	if (!pool->free_idx || !pool->gen || !pool->last_ns || !pool->lent || !pool->mem) {
		cls_reasm_pool_free(pool);
		errno = ENOMEM;
		return NULL;
	}
	/* lend low slots first: they stay warm in cache */
	for (uint32_t i = 0; i < n; i++)
		pool->free_idx[i] = n - 1 - i;
	pool->n_free = n;
	return pool;
}

void
cls_reasm_pool_free(struct cls_reasm_pool *pool)
{
	if (!pool)
		return;
	free(pool->free_idx);
	free(pool->gen);
	free(pool->last_ns);
	free(pool->lent);
	free(pool->mem);
	free(pool);
}

uint32_t
cls_reasm_pool_buf_size(const struct cls_reasm_pool *pool)
{
	return pool ? pool->buf_size : 0;
}

uint32_t
cls_reasm_pool_in_use(const struct cls_reasm_pool *pool)
{
	return pool ? pool->n - pool->n_free : 0;
}

uint8_t *
cls_reasm_get(struct cls_reasm_pool *pool, struct cls_reasm_ticket *t, uint64_t now_ns)
{
	uint32_t i;

	if (!pool)
		return NULL;
	if (t->slot) {
		i = t->slot - 1;
		if (i >= pool->n || !pool->lent[i] || pool->gen[i] != t->gen)
			return NULL; /* taken over: the caller gives up */
		pool->last_ns[i] = now_ns;
		return pool->mem + (size_t)i * pool->buf_size;
	}
	if (pool->n_free) {
		i = pool->free_idx[--pool->n_free];
	} else {
		/* exhausted: take over a slot idle for CLS_REASM_STALE_NS (O(n), only when full) */
		for (i = 0; i < pool->n; i++)
			if (now_ns > pool->last_ns[i] && now_ns - pool->last_ns[i] > CLS_REASM_STALE_NS)
				break;
		if (i == pool->n)
			return NULL;
	}
	pool->lent[i] = 1;
	pool->gen[i]++;
	pool->last_ns[i] = now_ns;
	t->slot = i + 1;
	t->gen = pool->gen[i];
	return pool->mem + (size_t)i * pool->buf_size;
}

void
cls_reasm_put(struct cls_reasm_pool *pool, struct cls_reasm_ticket *t)
{
	uint32_t i = t->slot - 1;

	if (pool && t->slot && i < pool->n && pool->lent[i] && pool->gen[i] == t->gen) {
		pool->lent[i] = 0;
		pool->free_idx[pool->n_free++] = i;
	}
	t->slot = 0;
	t->gen = 0;
}

/* ================================================================ parsers */

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* GREASE values (RFC 8701) are 0x?a?a with equal bytes: never a real version. */
static inline bool
is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Walk an extensions block [p, p + len) of a hello of `type`. 0 ok, -1 inconsistent. */
static int
parse_extensions(const uint8_t *p, size_t len, uint8_t type, struct cls_tls_hello *out)
{
	size_t off = 0;

	while (off < len) {
		if (len - off < 4)
			return -1;
		uint16_t et = rd16(p + off), el = rd16(p + off + 2);
		const uint8_t *e = p + off + 4;

		if (len - off - 4 < el)
			return -1;
		off += 4u + el;
		if (out->n_extensions < UINT16_MAX)
			out->n_extensions++;
		switch (et) {
		case 0: /* server_name: list<2>{ type(1) name<2> }; empty in a ServerHello */
			if (type != CLS_TLS_HS_CLIENT_HELLO || el == 0)
				break;
			if (el < 2 || rd16(e) != el - 2u)
				return -1;
			for (size_t o = 2; o < el;) {
				if (el - o < 3)
					return -1;
				uint16_t nl = rd16(e + o + 1);

				if (el - o - 3 < nl)
					return -1;
				if (e[o] == 0 && !out->sni && nl > 0) {
					out->sni = e + o + 3;
					out->sni_len = nl;
				}
				o += 3u + nl;
			}
			break;
		case 16: /* ALPN: list<2>{ proto<1> } */
			if (el < 3 || rd16(e) != el - 2u)
				return -1;
			for (size_t o = 2; o < el;) {
				uint8_t pl = e[o];

				if (pl == 0 || el - o - 1 < pl)
					return -1;
				if (!out->alpn) {
					out->alpn = e + o + 1;
					out->alpn_len = pl;
				}
				o += 1u + pl;
			}
			break;
		case 43: /* supported_versions: CH list<1> of versions; SH the selected one */
			if (type == CLS_TLS_HS_SERVER_HELLO) {
				if (el != 2)
					return -1;
				out->version = rd16(e);
				break;
			}
			if (el < 3 || e[0] != el - 1u || (e[0] & 1))
				return -1;
			for (size_t o = 1; o < el; o += 2) {
				uint16_t v = rd16(e + o);

				if (!is_grease(v) && (v >> 8) == 3 && v > out->version)
					out->version = v;
			}
			break;
		case 0xfe0d: /* encrypted_client_hello */
			out->ech = true;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Common prefix of both hellos: type, uint24 length, legacy version. */
static int
hello_prefix(const uint8_t *p, size_t len, uint8_t type, uint32_t min_body, uint32_t *body)
{
	if (len < 1)
		return 0;
	if (p[0] != type)
		return -1;
	if (len < 4)
		return 0;
	*body = rd24(p + 1);
	if (*body < min_body || *body > TLS_HELLO_BODY_MAX)
		return -1;
	if (len < 6)
		return 0;
	if (p[4] != 3 || p[5] > 4)
		return -1;
	/* session id length is at 4 + 2 + 32: reject early, long before the hello completes */
	if (len > 38 && p[38] > 32)
		return -1;
	if (len < 4u + *body)
		return 0;
	return 1;
}

int
cls_tls_parse_client_hello(const uint8_t *p, size_t len, struct cls_tls_hello *out)
{
	uint32_t body;
	/* version 2 + random 32 + sid<1> + suites<2> (>= 1 suite) + compression<1> (>= 1) */
	int r = hello_prefix(p, len, CLS_TLS_HS_CLIENT_HELLO, 41, &body);

	if (r != 1)
		return r;
	memset(out, 0, sizeof(*out));
	const uint8_t *b = p + 4;
	size_t off = 34;
	uint8_t sid = b[off];

	off += 1u + sid;
	if (off > body || body - off < 2) /* a short body with a long session id */
		return -1;
	uint16_t cs = rd16(b + off);

	if (cs < 2 || (cs & 1) || body - off - 2 < cs)
		return -1;
	off += 2u + cs;
	if (body - off < 1)
		return -1;
	uint8_t comp = b[off];

	if (comp < 1 || body - off - 1 < comp)
		return -1;
	off += 1u + comp;
	out->type = CLS_TLS_HS_CLIENT_HELLO;
	out->legacy_version = rd16(b);
	out->version = out->legacy_version;
	out->msg_len = 4 + body;
	if (off == body) /* SSL 3 / early TLS: no extensions at all */
		return 1;
	if (body - off < 2 || rd16(b + off) != body - off - 2)
		return -1;
	if (parse_extensions(b + off + 2, body - off - 2, CLS_TLS_HS_CLIENT_HELLO, out) < 0)
		return -1;
	return 1;
}

int
cls_tls_parse_server_hello(const uint8_t *p, size_t len, struct cls_tls_hello *out)
{
	uint32_t body;
	/* version 2 + random 32 + sid<1> + suite 2 + compression 1 */
	int r = hello_prefix(p, len, CLS_TLS_HS_SERVER_HELLO, 38, &body);

	if (r != 1)
		return r;
	memset(out, 0, sizeof(*out));
	const uint8_t *b = p + 4;
	size_t off = 34;
	uint8_t sid = b[off];

	off += 1u + sid;
	if (off > body || body - off < 3)
		return -1;
	out->type = CLS_TLS_HS_SERVER_HELLO;
	out->legacy_version = rd16(b);
	out->version = out->legacy_version;
	out->cipher_suite = rd16(b + off);
	out->msg_len = 4 + body;
	off += 3;
	if (off == body)
		return 1;
	if (body - off < 2 || rd16(b + off) != body - off - 2)
		return -1;
	if (parse_extensions(b + off + 2, body - off - 2, CLS_TLS_HS_SERVER_HELLO, out) < 0)
		return -1;
	return 1;
}

int
cls_tls_deframe(struct cls_tls_deframer *d, const uint8_t *p, size_t len, uint8_t *out,
	size_t cap, size_t *out_len)
{
	size_t i = 0;

	while (i < len) {
		if (d->rec_left == 0) {
			while (d->hdr_have < 5 && i < len)
				d->hdr[d->hdr_have++] = p[i++];
			if (d->hdr_have < 5)
				return 1;
			uint16_t rl = rd16(d->hdr + 3);

			if (d->hdr[0] != CLS_TLS_REC_HANDSHAKE || d->hdr[1] != 3 || d->hdr[2] > 4 ||
				rl == 0 || rl > CLS_TLS_REC_MAX)
				return -1;
			d->rec_left = rl;
			d->hdr_have = 0;
			if (d->records < UINT8_MAX)
				d->records++;
			continue;
		}
		size_t take = len - i < d->rec_left ? len - i : d->rec_left;
		size_t room = cap > *out_len ? cap - *out_len : 0;

		if (room == 0)
			return 0;
		if (take > room)
			take = room;
		memcpy(out + *out_len, p + i, take);
		*out_len += take;
		d->rec_left = (uint16_t)(d->rec_left - take);
		i += take;
	}
	return 1;
}

/* ================================================================ plugin */

enum tls_role { ROLE_UNKNOWN = 0, ROLE_CLIENT, ROLE_NOT, ROLE_DATA };
enum tls_verdict { V_UNDECIDED = 0, V_RECOGNISED, V_GAVE_UP };

struct tls_dir {
	struct cls_tls_deframer df;
	uint8_t role;         /* enum tls_role */
	uint8_t pkts;         /* payload segments seen */
	uint16_t len;         /* handshake bytes in the borrowed buffer */
	uint16_t last_len;    /* the previous segment, to skip its retransmission */
	uint32_t last_hash;
};

struct tls_state {
	struct tls_dir dir[2];
	struct cls_reasm_ticket ticket; /* the client direction's buffer, if it needed one */
	uint8_t verdict;      /* enum tls_verdict */
	uint8_t confidence;
	uint8_t evidence;     /* enum cls_evidence; 0: the plugin's (a parsed hello) */
	uint16_t app_id, sub_id;
};
_Static_assert(sizeof(struct tls_state) <= 192, "TLS per-session state budget");

/* ALPN protocol → (application, sub-application), resolved by name at enable(). */
static const struct {
	const char *alpn, *app, *sub;
} tls_alpn_names[] = {
	{"h2", "TLS", "TLS/HTTP2"},
	{"http/1.1", "TLS", "TLS/HTTP1.1"},
	{"dot", "DNS", "DNS/DoT"},
	{"imap", "IMAPS", NULL},
	{"pop3", "POP3S", NULL},
};
#define TLS_N_ALPN (sizeof(tls_alpn_names) / sizeof(tls_alpn_names[0]))

struct tls_ctx {
	uint16_t app_tls;
	struct {
		uint16_t app, sub;
	} alpn[TLS_N_ALPN];
	uint32_t pool_bufs;
};

static int
tls_enable(void **ctx, const struct cls_config *cfg)
{
	struct tls_ctx *c;

	if (!cfg || !cfg->apps)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app_tls = cls_apps_id(cfg->apps, "TLS");
	if (!c->app_tls) {
		free(c);
		return -ENOENT;
	}
	for (size_t i = 0; i < TLS_N_ALPN; i++) {
		c->alpn[i].app = cls_apps_id(cfg->apps, tls_alpn_names[i].app);
		if (c->alpn[i].app && tls_alpn_names[i].sub)
			c->alpn[i].sub = cls_apps_sub_id(cfg->apps, c->alpn[i].app,
				tls_alpn_names[i].sub);
	}
	c->pool_bufs = cls_opt_u32(cfg->options, "reasm_bufs", TLS_POOL_BUFS, 1, 65536);
	*ctx = c;
	return 0;
}

static void
tls_disable(void *ctx)
{
	free(ctx);
}

static void *
tls_worker_init(void *ctx)
{
	const struct tls_ctx *c = ctx;

	/* NULL (out of memory) still works: only hellos that fit one segment are seen */
	return cls_reasm_pool_new(c->pool_bufs, CLS_TLS_REASM_MAX);
}

static void
tls_worker_free(void *ctx, void *wctx)
{
	(void)ctx;
	cls_reasm_pool_free(wctx);
}

static void
tls_done(struct tls_state *st, void *wctx, uint8_t verdict)
{
	st->verdict = verdict;
	cls_reasm_put(wctx, &st->ticket);
}

static void
tls_from_hello(const struct tls_ctx *c, struct tls_state *st, const struct cls_session *s,
	const struct cls_tls_hello *h,
	uint8_t confidence)
{
	st->app_id = c->app_tls;
	st->sub_id = 0;
	st->confidence = confidence;
	if (h->alpn) {
		for (size_t i = 0; i < TLS_N_ALPN; i++) {
			size_t n = strlen(tls_alpn_names[i].alpn);

			if (c->alpn[i].app && n == h->alpn_len &&
				memcmp(h->alpn, tls_alpn_names[i].alpn, n) == 0) {
				st->app_id = c->alpn[i].app;
				st->sub_id = c->alpn[i].sub;
				break;
			}
		}
	}
	if (h->sni)
		cls_label_set(s, h->sni, h->sni_len);
}

/* One direction turned out not to be TLS: the session is not, unless the other direction is a
 * ClientHello still arriving. */
static void
tls_not(struct tls_state *st, void *wctx, unsigned int d)
{
	st->dir[d].role = ROLE_NOT;
	if (st->dir[d ^ 1].role != ROLE_CLIENT && st->dir[d ^ 1].role != ROLE_DATA)
		tls_done(st, wctx, V_GAVE_UP);
}

/* A ROLE_DATA direction's segment: walk the record headers (the de-framer's fields hold a
 * header split over segments and the bytes left of the current record). */
static void
tls_data(const struct tls_ctx *c, struct tls_state *st, void *wctx, unsigned int d,
	const uint8_t *p, size_t len)
{
	struct cls_tls_deframer *df = &st->dir[d].df;
	size_t o = 0;

	while (o < len) {
		if (df->rec_left) {
			size_t take = len - o < df->rec_left ? len - o : df->rec_left;

			df->rec_left = (uint16_t)(df->rec_left - take);
			o += take;
			continue;
		}
		while (df->hdr_have < 5 && o < len)
			df->hdr[df->hdr_have++] = p[o++];
		if (df->hdr_have < 5)
			break;
		uint16_t rl = rd16(df->hdr + 3);

		if (df->hdr[0] < 20 || df->hdr[0] > 23 || df->hdr[1] != 3 || df->hdr[2] < 1 ||
			df->hdr[2] > 3 || rl == 0 || rl > CLS_TLS_REC_MAX) {
			tls_not(st, wctx, d);
			return;
		}
		df->hdr_have = 0;
		df->rec_left = rl;
		if (df->records < 255)
			df->records++;
	}
	unsigned int recs = 0, segs = 0;

	for (unsigned int i = 0; i < 2; i++)
		if (st->dir[i].role == ROLE_DATA) {
			recs += st->dir[i].df.records;
			segs += st->dir[i].pkts;
		}
	if (recs >= TLS_DATA_RECORDS && segs >= 2) {
		st->app_id = c->app_tls;
		st->sub_id = 0;
		st->confidence = TLS_DATA_CONFIDENCE;
		st->evidence = CLS_EV_SIGNATURE;
		tls_done(st, wctx, V_RECOGNISED);
	}
}

/* First segment of a direction: decide its role and try the hello in place. */
static void
tls_first(const struct tls_ctx *c, struct tls_state *st, const struct cls_session *s, void *wctx,
	unsigned int d, const uint8_t *p, size_t len)
{
	struct cls_tls_hello h;
	size_t avail;
	int r;

	if (p[0] == TLS_REC_APP_DATA && st->dir[d ^ 1].role != ROLE_CLIENT) {
		st->dir[d].role = ROLE_DATA; /* mid-session: tls_data() walks the records */
		return;
	}
	if (p[0] != CLS_TLS_REC_HANDSHAKE || (len > 1 && p[1] != 3) || (len > 2 && p[2] > 4)) {
		tls_not(st, wctx, d);
		return;
	}
	if (len < 6) { /* header split off its payload: de-frame it like any later segment */
		st->dir[d].role = ROLE_CLIENT;
		return;
	}
	avail = rd16(p + 3);
	if (avail > len - 5)
		avail = len - 5;
	if (p[5] == CLS_TLS_HS_CLIENT_HELLO) {
		r = cls_tls_parse_client_hello(p + 5, avail, &h);
		if (r == 1) {
			tls_from_hello(c, st, s, &h, 100);
			tls_done(st, wctx, V_RECOGNISED);
		} else if (r == 0) {
			st->dir[d].role = ROLE_CLIENT; /* spans records/segments: reassemble */
		} else {
			tls_not(st, wctx, d);
		}
		return;
	}
	if (p[5] == CLS_TLS_HS_SERVER_HELLO) {
		/* we missed (part of) the client side; a ServerHello cut by the segment end still
		 * counts once its fixed part (version, random, session id length) is there */
		r = cls_tls_parse_server_hello(p + 5, avail, &h);
		if (r == 1 || (r == 0 && avail >= 39)) {
			if (r == 0)
				memset(&h, 0, sizeof(h));
			h.sni = NULL;
			tls_from_hello(c, st, s, &h, 80);
			tls_done(st, wctx, V_RECOGNISED);
			return;
		}
	}
	tls_not(st, wctx, d);
}

static void
tls_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct tls_ctx *c = ctx;
	struct tls_state *st = state;
	unsigned int d = p->dir & 1;
	struct tls_dir *td = &st->dir[d];
	struct cls_tls_hello h;
	uint8_t *buf;
	size_t n;
	int r, rd;

	if (st->verdict)
		return;
	if (p->l4proto != IPPROTO_TCP || s->type == CLS_SESSION_HOST) {
		tls_done(st, wctx, V_GAVE_UP);
		return;
	}
	if (p->payload_len == 0 || td->role == ROLE_NOT)
		return;
	uint32_t hash = cls_seg_hash(p->payload, p->payload_len);

	if (td->pkts && td->last_len == (uint16_t)p->payload_len && td->last_hash == hash)
		return; /* retransmission of the previous segment */
	td->last_len = (uint16_t)p->payload_len;
	td->last_hash = hash;
	if (++td->pkts > TLS_MAX_PKTS) {
		tls_done(st, wctx, V_GAVE_UP);
		return;
	}
	bool first = td->pkts == 1;

	if (first) {
		tls_first(c, st, s, wctx, d, p->payload, p->payload_len);
		if (st->verdict || (td->role != ROLE_CLIENT && td->role != ROLE_DATA))
			return;
	}
	if (td->role == ROLE_DATA) {
		tls_data(c, st, wctx, d, p->payload, p->payload_len);
		return;
	}
	/* the client's hello spans segments or records: de-frame into a borrowed buffer */
	buf = cls_reasm_get(wctx, &st->ticket, p->ts_ns);
	if (!buf) {
		tls_done(st, wctx, V_GAVE_UP); /* pool exhausted or our slot taken over */
		return;
	}
	n = td->len;
	rd = cls_tls_deframe(&td->df, p->payload, p->payload_len, buf, CLS_TLS_REASM_MAX, &n);
	td->len = (uint16_t)n;
	r = cls_tls_parse_client_hello(buf, n, &h);
	if (r == 1) {
		tls_from_hello(c, st, s, &h, 100);
		tls_done(st, wctx, V_RECOGNISED);
	} else if (r < 0 || rd < 0) {
		tls_not(st, wctx, d);
		if (!st->verdict)
			cls_reasm_put(wctx, &st->ticket);
	} else if (rd == 0) {
		tls_done(st, wctx, V_GAVE_UP); /* larger than CLS_TLS_REASM_MAX */
	}
}

static bool
tls_is_classifiable(void *ctx, void *state, const struct cls_session *s)
{
	const struct tls_state *st = state;

	(void)ctx;
	return st->verdict != V_UNDECIDED || (s->key.proto != IPPROTO_TCP) ||
	       s->type == CLS_SESSION_HOST;
}

static void
tls_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct tls_ctx *c = ctx;
	const struct tls_state *st = state;

	(void)s;
	memset(out, 0, sizeof(*out));
	if (st->verdict == V_RECOGNISED) {
		out->app_id = st->app_id;
		out->sub_id = st->sub_id;
		out->confidence = st->confidence;
		out->evidence = st->evidence;
		out->flags = CLS_RES_FINAL;
		cls_label_get(s, out->label, sizeof(out->label));
		return;
	}
	if (st->verdict == V_UNDECIDED &&
		(st->dir[0].role == ROLE_CLIENT || st->dir[1].role == ROLE_CLIENT)) {
		/* asked at session end with a ClientHello begun but never completed */
		out->app_id = c->app_tls;
		out->confidence = 60;
		return;
	}
	out->flags = CLS_RES_GAVE_UP | CLS_RES_FINAL;
}

static void
tls_session_free(void *ctx, void *wctx, void *state)
{
	struct tls_state *st = state;

	(void)ctx;
	cls_reasm_put(wctx, &st->ticket);
}

const struct cls_plugin cls_plugin_tls = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "tls",
	.version = "1.0",
	.state_size = sizeof(struct tls_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = tls_enable,
	.disable = tls_disable,
	.worker_init = tls_worker_init,
	.worker_free = tls_worker_free,
	.packet = tls_packet,
	.is_session_classifiable = tls_is_classifiable,
	.classify_session = tls_classify,
	.session_free = tls_session_free,
};
