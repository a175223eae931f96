/* dp_session.h — the session builder (TIE): per-worker session tables of flows, biflows or
 * hosts, their features, and the hand-off of each session to the classification engine.
 *
 * One table per worker, never shared (the symmetric hash sends both directions of a
 * conversation to one worker), so there are no locks. Bounded by construction:
 *   - capacity fixed at start; when full the longest-idle session is evicted (and counted);
 *   - expiry by inactivity timeout and by TCP close (RST, or FIN from both sides, after a short
 *     grace for the last ACKs), found in O(1) from the heads of two idle-ordered lists
 *     (equivalent to a timer wheel with one period), at most `gc_budget` per call;
 *   - 128 bytes of core state per session (_Static_assert), plus what the enabled features
 *     and classifiers declare, in a parallel array. */
#ifndef DP_SESSION_H
#define DP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "cls_engine.h"
#include "cls_session.h"
#include "dp_parse.h"

#define DP_SESS_COUNTER_LIST(_)                                          \
	_(CREATED, "created")                                             \
	_(EXPIRED, "expired")          /* inactivity timeout */           \
	_(CLOSED, "closed")            /* TCP RST / FIN both ways */       \
	_(EVICTED, "evicted")          /* table full: oldest pushed out */ \
	_(FLUSHED, "flushed")          /* still open at the end */         \
	_(TABLE_FULL, "table_full")    /* could not insert at all */       \
	_(NOT_IP, "not_ip")            /* packets with no session: non-IP */ \
	_(FRAGMENTS, "fragments")      /* non-first fragments: no ports */

enum dp_sess_counter {
#define _(sym, name) DP_SESS_##sym,
	DP_SESS_COUNTER_LIST(_)
#undef _
	DP_SESS_COUNTER_MAX
};
extern const char *const dp_sess_counter_names[DP_SESS_COUNTER_MAX];

/* Why a session record is emitted. */
enum dp_sess_end { DP_END_TIMEOUT, DP_END_CLOSED, DP_END_EVICTED, DP_END_FLUSH, DP_END_REALTIME };

/* A finished (or, in realtime mode, just classified) session, as the flow writer prints it. */
struct dp_flow_rec {
	struct cls_key key;
	uint64_t flow_id;
	uint64_t first_ts, last_ts;
	uint32_t pkts[2];
	uint64_t bytes[2];
	uint64_t payload_bytes[2];
	struct cls_decision d;
	uint16_t truth_app, truth_sub;
	uint8_t has_truth;
	uint8_t end;                 /* enum dp_sess_end */
	uint8_t type;                /* enum cls_session_type */
	uint8_t n_feat;
	uint8_t tunnel;              /* enum dp_tunnel: the encapsulation of its first packet */
	uint16_t sizes[CLS_FIRST_N_MAX];
	uint8_t dirs[CLS_FIRST_N_MAX];
	uint32_t iat_us[CLS_FIRST_N_MAX];
	char label[CLS_LABEL_MAX];
	/* what the dataset holds of it (has_dataset: the job writes shards) */
	uint8_t has_dataset;
	uint32_t dataset_pkts, dropped_pkts;
	uint64_t dataset_bytes;      /* captured bytes stored (after snaplen) */
};

struct dp_sessions;
struct cls_truth_table;

/* Receives each record (the caller's flow writer); `rec` is only valid during the call. */
typedef void (*dp_flow_emit_fn)(void *arg, const struct dp_flow_rec *rec);

struct dp_sess_ref;
/* Told a session is ending (or, in realtime mode, decided) before its record is made: `word`
 * is its select word, `d` the decision its record will carry. The hook may still act on the
 * session (write held packets, which dp_session_dropped can take back); it returns false to
 * leave the session out of the flow records (dp_select.h: a session the job did not select). */
typedef bool (*dp_sess_ending_fn)(void *arg, const struct dp_sess_ref *ref, uint32_t *word,
	const struct cls_decision *d);

struct dp_session_params {
	enum cls_session_type type;
	uint32_t capacity;           /* sessions per worker */
	uint64_t timeout_ns;         /* inactivity timeout (default 60 s) */
	uint64_t close_grace_ns;     /* after RST / both FINs (default 2 s) */
	uint32_t gc_budget;          /* sessions expired per dp_session_gc call at most (64) */
	bool realtime;               /* emit at classification (TIE realtime mode) */
	struct cls_engine *engine;   /* NULL: no classification */
	const struct cls_truth_table *truth; /* pre-classifier ground truth (NULL: none) */
	bool training;               /* sign sessions with their truth for train() */
	uint32_t first_bytes;        /* bytes of the first payload per direction kept (0: off) */
	uint32_t stream_bytes;       /* session payload stream kept (0: off) */
	bool features;               /* first-N sizes/directions/IATs (forced on if a plugin needs) */
	dp_flow_emit_fn emit;
	void *emit_arg;
	unsigned int worker;         /* for names and flow ids */
	bool dataset;                /* the job writes shards: records say what they hold */
	uint32_t snaplen;            /* the job's (0: whole packets), for the bytes stored */
	/* a 32-bit word per session for the caller (dp_select.h), zero when the session begins,
	 * and the hook told before a record is made; NULL: neither */
	dp_sess_ending_fn ending;
	void *ending_arg;
};

/* A packet's session as dp_session_packet found it, to take the packet back out of the
 * dataset figures if it is dropped before it is written (dp_session_dropped). */
struct dp_sess_ref {
	int32_t pos;                 /* -1: none */
	uint64_t id;
};

/* NULL with errno (ENOMEM) on failure. Memory is reserved up front and touched lazily. */
struct dp_sessions *dp_sessions_create(const struct dp_session_params *p);
void dp_sessions_destroy(struct dp_sessions *t);

/* Account one packet (frame data + parse result, caplen bytes captured) to its session;
 * classify while undecided. ref (may be NULL) says which session it went to. */
void dp_session_packet(struct dp_sessions *t, const uint8_t *frame, const struct dp_pkt_info *pi,
	uint64_t ts_ns, uint32_t wirelen, uint32_t caplen, struct dp_sess_ref *ref);

/* A packet accounted to ref's session will not be in the dataset (dropped on its way to the
 * writer): its record says so. Nothing when the session has ended meanwhile. */
void dp_session_dropped(struct dp_sessions *t, const struct dp_sess_ref *ref, uint32_t caplen);
/* The same for a packet known by its parse result only (its session looked up, never made). */
void dp_session_dropped_packet(struct dp_sessions *t, const struct dp_pkt_info *pi,
	uint32_t caplen);

/* The caller's word of ref's session (dp_session_params.ending); NULL without one, or when
 * ref names no live session. */
uint32_t *dp_session_word(struct dp_sessions *t, const struct dp_sess_ref *ref);
/* Is ref's application known: decided by the engine, or settled (cls_session_settled: waiting
 * cannot change it)? Then *d is the decision. Asks every classifier while undecided. */
bool dp_session_settled(struct dp_sessions *t, const struct dp_sess_ref *ref,
	struct cls_decision *d);

/* Expire what is due at time `now_ns` (packet time offline, wall clock live), at most
 * gc_budget sessions; returns how many. */
unsigned int dp_session_gc(struct dp_sessions *t, uint64_t now_ns);

/* Emit and remove every session (end of capture, or a cyclic-mode interval with all=false
 * expiring only what is due). */
void dp_session_flush(struct dp_sessions *t);

uint64_t dp_session_counter(const struct dp_sessions *t, enum dp_sess_counter c);
uint32_t dp_session_active(const struct dp_sessions *t);
/* bytes per session: core state and the whole per-session footprint */
uint32_t dp_session_footprint(const struct dp_sessions *t);

#endif
