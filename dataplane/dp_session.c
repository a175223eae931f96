/* dp_session.c — the per-worker session table (see dp_session.h).
 *
 * Lookup is DPDK's rte_hash (cuckoo, 40-byte key, our symmetric hash as its signature); the
 * position it returns indexes two parallel arrays: 128-byte core records and the per-session
 * extension (features, first bytes, stream, classifier state). Both arrays are reserved with
 * MAP_NORESERVE, so capacity costs address space, and memory only as sessions are used. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include "cls_truth.h"
#include "dp_hash.h"
#include "dp_session.h"
#include "tide_log.h"

const char *const dp_sess_counter_names[DP_SESS_COUNTER_MAX] = {
#define _(sym, name) name,
	DP_SESS_COUNTER_LIST(_)
#undef _
};

#define NIL UINT32_MAX

/* the table key: endpoints a and b; for biflows ordered (a <= b) so both directions agree.
 * 48 bytes, not 40: rte_hash compares 48-byte keys with a vector routine, other sizes with
 * memcmp (measured: memcmp was 6% of an offline classification run). */
struct sess_key {
	uint8_t a[16];
	uint8_t b[16];
	uint16_t pa, pb;
	uint8_t proto;
	uint8_t family;
	uint8_t pad[10];
};
_Static_assert(sizeof(struct sess_key) == 48, "session key size");

#define SF_SRC_IS_A 0x01 /* the session's src (first sender) is endpoint a */
#define SF_FIN_A 0x02
#define SF_FIN_B 0x04
#define SF_CLOSING 0x08
#define SF_EMITTED 0x10  /* realtime record already written */
#define SF_DECIDED 0x20

enum { LIST_ACTIVE = 0, LIST_CLOSING = 1 };

struct dp_sess {
	struct sess_key key;
	uint32_t pkts[2];
	uint64_t bytes[2];
	uint64_t payload[2];
	uint64_t first_ts;
	uint64_t last_ts;
	uint64_t id;
	uint32_t prev, next;
	uint32_t sig;
	uint8_t flags;
	uint8_t list;
	uint8_t n_feat;
	uint8_t tunnel;      /* enum dp_tunnel of the session's first packet */
};
_Static_assert(sizeof(struct dp_sess) == 128, "core session state is budgeted at 128 bytes");

/* What the dataset holds of a session (in the extension: only for jobs that write shards). */
struct sess_dataset {
	uint64_t stored;             /* captured bytes of its packets, after snaplen */
	uint64_t dropped_bytes;      /* of those, dropped before the writer */
	uint32_t dropped_pkts;
	uint32_t pad;
};

struct lru {
	uint32_t head, tail;
};

struct dp_sessions {
	struct dp_session_params p;
	struct rte_hash *h;
	uint32_t n_slots;
	struct dp_sess *s;
	uint8_t *ext;
	size_t s_bytes, ext_bytes;
	uint32_t ext_size;
	/* extension layout (offsets within one session's extension; UINT32_MAX = absent) */
	uint32_t off_sizes, off_dirs, off_iat, off_fb, off_fb_len, off_stream, off_stream_len,
		off_cls, off_ds, off_word;
	uint32_t first_n;
	struct lru lru[2];
	uint32_t active;
	uint64_t next_id;
	uint64_t counters[DP_SESS_COUNTER_MAX];
	struct cls_worker *cw;
};

static inline uint8_t *
ext_of(const struct dp_sessions *t, uint32_t idx)
{
	return t->ext + (size_t)idx * t->ext_size;
}

static void
lru_unlink(struct dp_sessions *t, uint32_t idx)
{
	struct dp_sess *s = &t->s[idx];
	struct lru *l = &t->lru[s->list];
	if (s->prev != NIL)
		t->s[s->prev].next = s->next;
	else
		l->head = s->next;
	if (s->next != NIL)
		t->s[s->next].prev = s->prev;
	else
		l->tail = s->prev;
}

static void
lru_append(struct dp_sessions *t, uint32_t idx, uint8_t list)
{
	struct dp_sess *s = &t->s[idx];
	struct lru *l = &t->lru[list];
	s->list = list;
	s->next = NIL;
	s->prev = l->tail;
	if (l->tail != NIL)
		t->s[l->tail].next = idx;
	else
		l->head = idx;
	l->tail = idx;
}

static void *
reserve(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	madvise(m, bytes, MADV_HUGEPAGE); /* fewer TLB misses on a big table, where allowed */
	return m;
}

struct dp_sessions *
dp_sessions_create(const struct dp_session_params *p)
{
	struct dp_sessions *t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->p = *p;
	if (!t->p.capacity)
		t->p.capacity = 1u << 20;
	if (!t->p.timeout_ns)
		t->p.timeout_ns = 60ull * 1000000000ull;
	if (!t->p.close_grace_ns)
		t->p.close_grace_ns = 2ull * 1000000000ull;
	if (!t->p.gc_budget)
		t->p.gc_budget = 64;
	if (t->p.first_bytes > CLS_FIRST_BYTES_MAX)
		t->p.first_bytes = CLS_FIRST_BYTES_MAX;

	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "tide_sess%u", p->worker);
	/* a cuckoo table near 100% load spends its inserts searching displacement paths: give it
	 * 25% headroom over the session capacity (which the LRU eviction enforces), and
	 * extendable buckets so an unlucky bucket never refuses an insert */
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = t->p.capacity + t->p.capacity / 4,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
		.key_len = sizeof(struct sess_key),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
	};
	t->h = rte_hash_create(&hp);
	if (!t->h)
		goto fail;
	t->n_slots = (uint32_t)rte_hash_max_key_id(t->h) + 1;

	/* extension layout */
	uint32_t off = 0;
	uint32_t needs = p->engine ? cls_engine_needs(p->engine) : 0;
	t->first_n = p->engine ? cls_engine_first_n(p->engine) : 8;
	t->off_sizes = t->off_dirs = t->off_iat = t->off_fb = t->off_fb_len = UINT32_MAX;
	t->off_stream = t->off_stream_len = t->off_cls = UINT32_MAX;
	if (p->features || (needs & CLS_NEED_FIRST_N)) {
		t->p.features = true;
		t->off_iat = off;
		off += 4 * t->first_n;
		t->off_sizes = off;
		off += 2 * t->first_n;
		t->off_dirs = off;
		off += t->first_n;
	}
	if ((needs & CLS_NEED_FIRST_BYTES) && !t->p.first_bytes)
		t->p.first_bytes = 64;
	if (t->p.first_bytes) {
		off = (off + 1) & ~1u;
		t->off_fb_len = off;
		off += 4;
		t->off_fb = off;
		off += 2 * t->p.first_bytes;
	}
	if ((needs & CLS_NEED_STREAM) && !t->p.stream_bytes)
		t->p.stream_bytes = 1024;
	if (t->p.stream_bytes) {
		off = (off + 3) & ~3u;
		t->off_stream_len = off;
		off += 4;
		t->off_stream = off;
		off += t->p.stream_bytes;
	}
	if (p->engine) {
		off = (off + 7) & ~7u;
		t->off_cls = off;
		off += cls_engine_state_size(p->engine);
	}
	t->off_ds = UINT32_MAX;
	if (p->dataset) {
		off = (off + 7) & ~7u;
		t->off_ds = off;
		off += sizeof(struct sess_dataset);
	}
	t->off_word = UINT32_MAX;
	if (p->ending) {
		off = (off + 3) & ~3u;
		t->off_word = off;
		off += sizeof(uint32_t);
	}
	t->ext_size = (off + 7) & ~7u;

	t->s_bytes = (size_t)t->n_slots * sizeof(struct dp_sess);
	t->s = reserve(t->s_bytes);
	if (!t->s)
		goto fail;
	if (t->ext_size) {
		t->ext_bytes = (size_t)t->n_slots * t->ext_size;
		t->ext = reserve(t->ext_bytes);
		if (!t->ext)
			goto fail;
	}
	if (p->engine) {
		t->cw = cls_worker_create(p->engine);
		if (!t->cw)
			goto fail;
	}
	t->lru[0].head = t->lru[0].tail = t->lru[1].head = t->lru[1].tail = NIL;
	t->next_id = ((uint64_t)p->worker << 40) + 1;
	if (p->worker == 0)   /* the same for every worker: said once */
		tide_info("dataplane", "sessions: %u per worker, %zu bytes each (%zu in the table "
			"entry, %u of features and classifier state, %u of which the classifiers')",
			t->n_slots, sizeof(struct dp_sess) + t->ext_size, sizeof(struct dp_sess),
			t->ext_size, p->engine ? cls_engine_state_size(p->engine) : 0);
	return t;
fail:
	dp_sessions_destroy(t);
	errno = ENOMEM;
	return NULL;
}

void
dp_sessions_destroy(struct dp_sessions *t)
{
	if (!t)
		return;
	cls_worker_destroy(t->cw);
	if (t->s)
		munmap(t->s, t->s_bytes);
	if (t->ext)
		munmap(t->ext, t->ext_bytes);
	rte_hash_free(t->h);
	free(t);
}

/* the view classifiers see; fwd = from the session's src */
static void
fill_view(const struct dp_sessions *t, uint32_t idx, struct cls_session *v)
{
	const struct dp_sess *s = &t->s[idx];
	const uint8_t *x = ext_of(t, idx);
	bool a_src = s->flags & SF_SRC_IS_A;
	memcpy(v->key.src, a_src ? s->key.a : s->key.b, 16);
	memcpy(v->key.dst, a_src ? s->key.b : s->key.a, 16);
	v->key.sport = a_src ? s->key.pa : s->key.pb;
	v->key.dport = a_src ? s->key.pb : s->key.pa;
	v->key.proto = s->key.proto;
	v->key.family = s->key.family;
	v->type = (uint8_t)t->p.type;
	v->first_ts_ns = s->first_ts;
	v->last_ts_ns = s->last_ts;
	for (int d = 0; d < 2; d++) {
		v->pkts[d] = s->pkts[d];
		v->bytes[d] = s->bytes[d];
		v->payload_bytes[d] = s->payload[d];
	}
	memset(&v->feat, 0, sizeof(v->feat));
	if (t->off_sizes != UINT32_MAX) {
		v->feat.n_pkts = s->n_feat;
		v->feat.sizes = (const uint16_t *)(x + t->off_sizes);
		v->feat.dirs = x + t->off_dirs;
		v->feat.iat_us = (const uint32_t *)(x + t->off_iat);
	}
	if (t->off_fb != UINT32_MAX) {
		const uint16_t *len = (const uint16_t *)(x + t->off_fb_len);
		for (int d = 0; d < 2; d++) {
			v->feat.first_bytes[d] = x + t->off_fb + (size_t)d * t->p.first_bytes;
			v->feat.first_len[d] = len[d];
		}
	}
	if (t->off_stream != UINT32_MAX) {
		v->feat.stream = x + t->off_stream;
		v->feat.stream_len = *(const uint32_t *)(x + t->off_stream_len);
	}
	v->label = NULL;
	v->label_size = 0;
	if (t->p.engine) {
		v->label = cls_session_label_slot(t->p.engine, ext_of(t, idx) + t->off_cls);
		v->label_size = cls_engine_label_size(t->p.engine);
	}
}

static void
emit(struct dp_sessions *t, uint32_t idx, enum dp_sess_end why)
{
	struct dp_sess *s = &t->s[idx];
	struct cls_session v;
	struct dp_flow_rec rec;
	void *cls = t->p.engine ? ext_of(t, idx) + t->off_cls : NULL;

	fill_view(t, idx, &v);
	/* the decision first: the ending hook judges on it, and may still add to the session's
	 * dataset figures (held packets written, or taken back) before they are read */
	struct cls_decision decision = { .classifier = -1 };
	if (cls) {
		if (why == DP_END_REALTIME)
			cls_session_decision(cls, &decision);
		else
			cls_session_finish(t->cw, cls, &v, &decision);
	}
	if (t->p.ending) {
		struct dp_sess_ref ref = { .pos = (int32_t)idx, .id = s->id };
		if (!t->p.ending(t->p.ending_arg, &ref, (uint32_t *)(ext_of(t, idx) + t->off_word),
			    &decision))
			return;
	}
	memset(&rec, 0, offsetof(struct dp_flow_rec, sizes));
	rec.key = v.key;
	rec.flow_id = s->id;
	rec.first_ts = s->first_ts;
	rec.last_ts = s->last_ts;
	for (int d = 0; d < 2; d++) {
		rec.pkts[d] = s->pkts[d];
		rec.bytes[d] = s->bytes[d];
		rec.payload_bytes[d] = s->payload[d];
	}
	rec.end = (uint8_t)why;
	rec.type = (uint8_t)t->p.type;
	rec.tunnel = s->tunnel;
	if (t->off_ds != UINT32_MAX) {
		const struct sess_dataset *ds = (const void *)(ext_of(t, idx) + t->off_ds);
		uint32_t pkts = s->pkts[0] + s->pkts[1];
		rec.has_dataset = 1;
		rec.dropped_pkts = ds->dropped_pkts;
		rec.dataset_pkts = pkts - ds->dropped_pkts;
		rec.dataset_bytes = ds->stored - ds->dropped_bytes;
	}
	rec.d = decision;
	rec.label[0] = '\0';
	if (cls) {
		snprintf(rec.label, sizeof(rec.label), "%s", cls_session_label(t->p.engine, cls));
	}
	if (t->p.truth) {
		struct cls_truth truth;
		if (cls_truth_lookup(t->p.truth, &v.key, s->first_ts, &truth)) {
			rec.has_truth = 1;
			rec.truth_app = truth.app_id;
			rec.truth_sub = truth.sub_id;
			if (cls && t->p.training && why != DP_END_REALTIME)
				cls_session_sign(t->cw, cls, &v, &truth);
		}
	}
	rec.n_feat = v.feat.n_pkts;
	for (unsigned int i = 0; i < rec.n_feat; i++) {
		rec.sizes[i] = v.feat.sizes[i];
		rec.dirs[i] = v.feat.dirs[i];
		rec.iat_us[i] = v.feat.iat_us[i];
	}
	t->p.emit(t->p.emit_arg, &rec);
}

static void
end_session(struct dp_sessions *t, uint32_t idx, enum dp_sess_end why, enum dp_sess_counter c)
{
	struct dp_sess *s = &t->s[idx];
	if (!(s->flags & SF_EMITTED))
		emit(t, idx, why);
	if (t->p.engine)
		cls_session_end(t->cw, ext_of(t, idx) + t->off_cls);
	lru_unlink(t, idx);
	rte_hash_del_key_with_hash(t->h, &s->key, s->sig);
	s->id = 0; /* no id is 0: a late dp_session_dropped finds nothing to correct */
	t->active--;
	t->counters[c]++;
}

static inline int
ep_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
	int r = memcmp(a, b, 16);
	return r ? r : (int)pa - (int)pb;
}

/* A packet's session key in this table's type, its signature (returned), and whether the
 * packet goes from endpoint a. */
static inline uint32_t
make_key(const struct dp_sessions *t, const struct dp_pkt_info *pi, struct sess_key *kp,
	bool *from_a)
{
	struct sess_key k;
	*from_a = true;
	memset(&k, 0, sizeof(k));
	k.family = pi->l3;
	if (t->p.type == CLS_SESSION_HOST) {
		memcpy(k.a, pi->src, 16);
	} else {
		uint16_t sp = (pi->flags & DP_PKT_HAS_L4) ? pi->sport : 0;
		uint16_t dpt = (pi->flags & DP_PKT_HAS_L4) ? pi->dport : 0;
		k.proto = pi->l4proto;
		if (t->p.type == CLS_SESSION_BIFLOW && ep_cmp(pi->src, sp, pi->dst, dpt) > 0) {
			memcpy(k.a, pi->dst, 16);
			memcpy(k.b, pi->src, 16);
			k.pa = dpt;
			k.pb = sp;
			*from_a = false;
		} else {
			memcpy(k.a, pi->src, 16);
			memcpy(k.b, pi->dst, 16);
			k.pa = sp;
			k.pb = dpt;
		}
	}
	*kp = k;
	/* the signature must be a function of the key: the symmetric 5-tuple hash is, for flows
	 * and (canonical) biflows; a host key is one address */
	return t->p.type == CLS_SESSION_HOST ? rte_hash_crc(&k, sizeof(k), 0) : dp_hash_sym(pi, 0);
}

static inline uint32_t
stored_len(const struct dp_sessions *t, uint32_t caplen)
{
	return t->p.snaplen && caplen > t->p.snaplen ? t->p.snaplen : caplen;
}

void
dp_session_dropped(struct dp_sessions *t, const struct dp_sess_ref *ref, uint32_t caplen)
{
	if (t->off_ds == UINT32_MAX || !ref || ref->pos < 0 || (uint32_t)ref->pos >= t->n_slots)
		return;
	const struct dp_sess *s = &t->s[ref->pos];
	/* ended (its record written) before the drop, or the slot is another session's now:
	 * nothing to correct (ids are compared on their low 32 bits: what an mbuf carries) */
	if (!s->id || (uint32_t)s->id != (uint32_t)ref->id)
		return;
	struct sess_dataset *ds = (void *)(ext_of(t, (uint32_t)ref->pos) + t->off_ds);
	ds->dropped_pkts++;
	ds->dropped_bytes += stored_len(t, caplen);
}

void
dp_session_dropped_packet(struct dp_sessions *t, const struct dp_pkt_info *pi, uint32_t caplen)
{
	if (t->off_ds == UINT32_MAX || pi->l3 == DP_L3_NONE ||
		((pi->flags & DP_PKT_FRAGMENT) && !(pi->flags & DP_PKT_FIRST_FRAG)))
		return;
	struct sess_key k;
	bool from_a;
	uint32_t sig = make_key(t, pi, &k, &from_a);
	int32_t pos = rte_hash_lookup_with_hash(t->h, &k, sig);
	if (pos < 0)
		return;
	struct dp_sess_ref ref = { .pos = pos, .id = t->s[pos].id };
	dp_session_dropped(t, &ref, caplen);
}

void
dp_session_packet(struct dp_sessions *t, const uint8_t *frame, const struct dp_pkt_info *pi,
	uint64_t ts_ns, uint32_t wirelen, uint32_t caplen, struct dp_sess_ref *ref)
{
	if (ref)
		ref->pos = -1;
	if (pi->l3 == DP_L3_NONE) {
		t->counters[DP_SESS_NOT_IP]++;
		return;
	}
	if ((pi->flags & DP_PKT_FRAGMENT) && !(pi->flags & DP_PKT_FIRST_FRAG)) {
		t->counters[DP_SESS_FRAGMENTS]++;
		return;
	}
	struct sess_key k;
	bool from_a;
	uint32_t sig = make_key(t, pi, &k, &from_a);
	int32_t pos = rte_hash_lookup_with_hash(t->h, &k, sig);
	struct dp_sess *s;
	bool fresh = false;
	if (pos < 0) {
		if (t->active >= t->p.capacity && t->lru[LIST_ACTIVE].head != NIL)
			end_session(t, t->lru[LIST_ACTIVE].head, DP_END_EVICTED, DP_SESS_EVICTED);
		pos = rte_hash_add_key_with_hash(t->h, &k, sig);
		if (pos == -ENOSPC) {
			/* cuckoo buckets full before capacity: make room from the idle end */
			uint32_t victim = t->lru[LIST_CLOSING].head != NIL ? t->lru[LIST_CLOSING].head :
				t->lru[LIST_ACTIVE].head;
			if (victim != NIL) {
				end_session(t, victim, DP_END_EVICTED, DP_SESS_EVICTED);
				pos = rte_hash_add_key_with_hash(t->h, &k, sig);
			}
		}
		if (pos < 0) {
			t->counters[DP_SESS_TABLE_FULL]++;
			return;
		}
		s = &t->s[pos];
		memset(s, 0, sizeof(*s));
		s->key = k;
		s->sig = sig;
		s->id = t->next_id++;
		s->first_ts = ts_ns;
		s->flags = from_a ? SF_SRC_IS_A : 0;
		s->tunnel = pi->tunnel;
		if (t->off_fb_len != UINT32_MAX)
			memset(ext_of(t, (uint32_t)pos) + t->off_fb_len, 0, 4);
		if (t->off_stream_len != UINT32_MAX)
			memset(ext_of(t, (uint32_t)pos) + t->off_stream_len, 0, 4);
		if (t->off_ds != UINT32_MAX)
			memset(ext_of(t, (uint32_t)pos) + t->off_ds, 0, sizeof(struct sess_dataset));
		if (t->p.engine)
			cls_session_begin(t->cw, ext_of(t, (uint32_t)pos) + t->off_cls);
		if (t->off_word != UINT32_MAX)
			memset(ext_of(t, (uint32_t)pos) + t->off_word, 0, sizeof(uint32_t));
		t->active++;
		t->counters[DP_SESS_CREATED]++;
		fresh = true;
	} else {
		s = &t->s[pos];
		lru_unlink(t, (uint32_t)pos);
	}
	uint32_t idx = (uint32_t)pos;
	uint8_t dir = (from_a == !!(s->flags & SF_SRC_IS_A)) ? CLS_DIR_FWD : CLS_DIR_BWD;
	uint64_t prev_ts = fresh ? ts_ns : s->last_ts;
	const uint8_t *payload = frame + pi->payload_off;
	uint32_t plen = pi->payload_len;
	s->pkts[dir]++;
	s->bytes[dir] += wirelen;
	s->payload[dir] += plen;
	if (t->off_ds != UINT32_MAX)
		((struct sess_dataset *)(ext_of(t, idx) + t->off_ds))->stored += stored_len(t, caplen);
	if (ref) {
		ref->pos = (int32_t)idx;
		ref->id = s->id;
	}
	if (ts_ns > s->last_ts)
		s->last_ts = ts_ns;

	uint8_t *x = ext_of(t, idx);
	if (t->off_sizes != UINT32_MAX && s->n_feat < t->first_n) {
		((uint16_t *)(x + t->off_sizes))[s->n_feat] = (uint16_t)(plen > 65535 ? 65535 : plen);
		x[t->off_dirs + s->n_feat] = dir;
		uint64_t iat = ts_ns > prev_ts ? (ts_ns - prev_ts) / 1000 : 0;
		((uint32_t *)(x + t->off_iat))[s->n_feat] = (uint32_t)(iat > UINT32_MAX ? UINT32_MAX : iat);
		s->n_feat++;
	}
	if (t->off_fb != UINT32_MAX && plen) {
		uint16_t *fl = (uint16_t *)(x + t->off_fb_len);
		if (fl[dir] == 0) {
			uint32_t n = plen < t->p.first_bytes ? plen : t->p.first_bytes;
			memcpy(x + t->off_fb + (size_t)dir * t->p.first_bytes, payload, n);
			fl[dir] = (uint16_t)n;
		}
	}
	if (t->off_stream != UINT32_MAX && plen) {
		uint32_t *sl = (uint32_t *)(x + t->off_stream_len);
		uint32_t room = t->p.stream_bytes - *sl;
		uint32_t n = plen < room ? plen : room;
		memcpy(x + t->off_stream + *sl, payload, n);
		*sl += n;
	}
	if (k.proto == 6 && (pi->flags & DP_PKT_HAS_L4)) {
		if (pi->tcp_flags & 0x04) /* RST */
			s->flags |= SF_CLOSING;
		if (pi->tcp_flags & 0x01)
			s->flags |= from_a ? SF_FIN_A : SF_FIN_B;
		if ((s->flags & (SF_FIN_A | SF_FIN_B)) == (SF_FIN_A | SF_FIN_B))
			s->flags |= SF_CLOSING;
	}
	lru_append(t, idx, (s->flags & SF_CLOSING) ? LIST_CLOSING : LIST_ACTIVE);

	if (t->p.engine && !(s->flags & SF_DECIDED)) {
		struct cls_session v;
		struct cls_packet cp = {
			.payload = payload,
			.payload_len = plen,
			.l3 = frame + pi->l3_off,
			.l3_len = pi->payload_off > pi->l3_off ? pi->payload_off + plen - pi->l3_off : 0u,
			.wire_len = wirelen,
			.ts_ns = ts_ns,
			.index = s->pkts[0] + s->pkts[1] - 1,
			.dir = dir,
			.tcp_flags = pi->tcp_flags,
			.l4proto = pi->l4proto,
		};
		struct cls_decision d;
		fill_view(t, idx, &v);
		if (cls_session_packet(t->cw, x + t->off_cls, &v, &cp, &d)) {
			s->flags |= SF_DECIDED;
			if (t->p.realtime) {
				emit(t, idx, DP_END_REALTIME);
				s->flags |= SF_EMITTED;
			}
		}
	}
}

/* ref's session, or NULL when it has ended (the slot free or another session's) */
static inline const struct dp_sess *
live_session(const struct dp_sessions *t, const struct dp_sess_ref *ref)
{
	if (!ref || ref->pos < 0 || (uint32_t)ref->pos >= t->n_slots)
		return NULL;
	const struct dp_sess *s = &t->s[ref->pos];
	return s->id && s->id == ref->id ? s : NULL;
}

uint32_t *
dp_session_word(struct dp_sessions *t, const struct dp_sess_ref *ref)
{
	if (t->off_word == UINT32_MAX || !live_session(t, ref))
		return NULL;
	return (uint32_t *)(ext_of(t, (uint32_t)ref->pos) + t->off_word);
}

bool
dp_session_settled(struct dp_sessions *t, const struct dp_sess_ref *ref,
	struct cls_decision *d)
{
	const struct dp_sess *s = live_session(t, ref);
	if (!s || !t->p.engine)
		return false;
	void *cls = ext_of(t, (uint32_t)ref->pos) + t->off_cls;
	if (s->flags & SF_DECIDED) {
		cls_session_decision(cls, d);
		return true;
	}
	struct cls_session v;
	fill_view(t, (uint32_t)ref->pos, &v);
	return cls_session_settled(t->cw, cls, &v, d);
}

unsigned int
dp_session_gc(struct dp_sessions *t, uint64_t now_ns)
{
	unsigned int done = 0;
	uint32_t idx;
	while (done < t->p.gc_budget && (idx = t->lru[LIST_CLOSING].head) != NIL &&
		t->s[idx].last_ts + t->p.close_grace_ns <= now_ns) {
		end_session(t, idx, DP_END_CLOSED, DP_SESS_CLOSED);
		done++;
	}
	while (done < t->p.gc_budget && (idx = t->lru[LIST_ACTIVE].head) != NIL &&
		t->s[idx].last_ts + t->p.timeout_ns <= now_ns) {
		end_session(t, idx, DP_END_TIMEOUT, DP_SESS_EXPIRED);
		done++;
	}
	return done;
}

void
dp_session_flush(struct dp_sessions *t)
{
	for (int l = 0; l < 2; l++) {
		uint32_t idx;
		while ((idx = t->lru[l].head) != NIL)
			end_session(t, idx, DP_END_FLUSH, DP_SESS_FLUSHED);
	}
}

uint64_t
dp_session_counter(const struct dp_sessions *t, enum dp_sess_counter c)
{
	return t->counters[c];
}

uint32_t
dp_session_active(const struct dp_sessions *t)
{
	return t->active;
}

uint32_t
dp_session_footprint(const struct dp_sessions *t)
{
	return (uint32_t)sizeof(struct dp_sess) + t->ext_size;
}
