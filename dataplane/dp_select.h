/* dp_select.h — jobs that keep sessions by application: "apps": ["QUIC"] keeps QUIC on any
 * port, where a filter could only say `udp port 443`.
 *
 * How: each new session's packets are held (a reference to each mbuf, in arrival order) until
 * the classification engine decides the session; then all of them, and every later packet of
 * the session, are written, or all are dropped. A session waits at most the job's apps_packets
 * packets and apps_wait seconds, and a worker holds at most a fixed number of packets for all
 * its jobs (the memory cap: its share of a quarter of the packet pool, which the tuning
 * `mbufs` sizes, so held packets never starve the NIC or the file reader). A session still undecided at one of those bounds, or when the job
 * ends, is kept or dropped as the job says (apps_undecided) and counted under that bound. A
 * session that ends before any bound is judged on the engine's final decision (TIE's final
 * dump). Packets without a session (not IP, later fragments, a full session table) are treated
 * as undecided.
 *
 * Dataset and flow records agree: a dropped session's packets are counted `unselected` (a part
 * of `filtered`: the job did not ask for them, not a loss) and its flow record is not written,
 * so the application mix is the mix of the shards, and every kept session is complete from
 * its first packet.
 *
 * Where the state lives: one 32-bit word per session in the session table (dp_session.h) and,
 * per worker and job, a struct dp_select with the pending sessions (oldest first) and their
 * held packets. Like the session table it is the worker's alone; the control thread touches it
 * only once the job has left the published table (dp_select_end). */
#ifndef DP_SELECT_H
#define DP_SELECT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cls_apps.h"
#include "cls_services.h"
#include "dp_session.h"
#include "tide_job.h"

/* Per job, what became of its sessions and why (the manifest's and the drone's "selection"). */
#define DP_SELECT_COUNTER_LIST(_)                                                     \
	_(SELECTED, "selected")                 /* identified as one of the job's */     \
	_(UNSELECTED, "unselected")             /* identified as something else */       \
	_(UNDECIDED_KEPT, "undecided_kept")     /* a bound came first; the job keeps */  \
	_(UNDECIDED_DROPPED, "undecided_dropped") /* ... the job drops */                \
	_(AT_PACKETS, "packets")                /* undecided after apps_packets */       \
	_(AT_WAIT, "wait")                      /* undecided after apps_wait */          \
	_(AT_MEMORY, "memory")                  /* the worker's held packets at the cap */ \
	_(AT_END, "end")                        /* the session or the job ended first */ \
	_(AT_UNKNOWN, "unknown")                /* decided: no classifier could tell */  \
	_(NO_SESSION, "no_session")             /* packets with no session (not IP...) */

enum dp_select_counter {
#define _(sym, name) DP_SEL_##sym,
	DP_SELECT_COUNTER_LIST(_)
#undef _
	DP_SELECT_COUNTER_MAX
};

/* A job's selection, its names resolved against the engine's tables. Read-only once made. */
struct dp_select_spec {
	char apps[TIDE_JOB_APPS_MAX + 1];     /* the canonical list (tide_job.h) */
	bool keep_undecided;
	uint32_t max_packets;                 /* held per session before it counts as undecided */
	uint64_t max_wait_ns;
	uint32_t n_subs;
	uint32_t subs[TIDE_JOB_APPS_NAMES_MAX]; /* app << 16 | sub, for names such as QUIC/HTTP3 */
	uint64_t app_bits[65536 / 64];        /* whole applications by id */
	uint64_t svc_bits[65536 / 64];        /* services by id */
};

/* Resolve a canonical list (tide_job_apps_parse) into s: every name must be an application
 * ("QUIC"), an application's variant ("QUIC/HTTP3") or a service ("YouTube") of the tables
 * (services may be NULL). 0, or -EINVAL with a sentence in why naming the first unknown name. */
int dp_select_spec_make(struct dp_select_spec *s, const char *apps, bool keep_undecided,
	uint32_t max_packets, uint32_t wait_s, const struct cls_apps *app_table,
	const struct cls_services *services, char *why, size_t why_size);

/* For tide-dataplane --check-filter --apps: the list's grammar and its names, against the
 * tables of config_dir (tide_apps.txt, services.txt). 0, or -EINVAL with a sentence. */
int dp_select_check_names(const char *apps, const char *config_dir, char *why, size_t why_size);

/* Does a decided session belong to the selection? */
bool dp_select_wants(const struct dp_select_spec *s, const struct cls_decision *d);

/* Packets one worker's selections may hold at most, whatever the pool (dp_capture_init gives
 * each worker a quarter of the pool, divided among the workers, up to this). */
#define DP_SELECT_HELD_MAX 65536

struct dp_capture;
struct dp_select;
struct rte_mbuf;

/* Worker `worker`'s state for job `job`, holding at most `held_max` packets at a time (the
 * worker's cap: all its jobs together; see dp_capture.select_held_max). NULL without memory. */
struct dp_select *dp_select_create(struct dp_capture *c, unsigned int worker, unsigned int job,
	const struct dp_select_spec *spec, uint32_t held_max);
/* Frees what is still held (dp_select_end should have released it). */
void dp_select_destroy(struct dp_select *s);

/* dp_session_params.ending for a job that selects (arg: its struct dp_select): a pending
 * session is judged on its final decision; false leaves a dropped session out of the flow
 * records. */
bool dp_select_ending(void *arg, const struct dp_sess_ref *ref, uint32_t *word,
	const struct cls_decision *d);

/* The worker, for a packet the job's filter kept and its session table saw (ref; pos -1 when
 * it has no session): true to deliver it now. False when it is held (m is referenced) or
 * dropped (counted; m untouched: the caller frees what no job takes). Sessions that resolve
 * here deliver their held packets first, so order is kept. m may be NULL (no shards: only the
 * flow records are selected). */
bool dp_select_packet(struct dp_select *s, struct rte_mbuf *m, const struct dp_sess_ref *ref,
	uint64_t ts_ns);

/* Before the packet is copied anywhere (the file reader builds an mbuf only for a job that
 * takes it): true when ref's session is one the job has left out, and the packet is counted
 * unselected as dp_select_packet would. Cheap: the session's word. */
bool dp_select_left_out(struct dp_select *s, const struct dp_sess_ref *ref);

/* Sessions that have waited apps_wait by `now_ns` (packet time offline) are judged undecided. */
void dp_select_tick(struct dp_select *s, uint64_t now_ns);

/* The job ends: every pending session is judged undecided (at "end") and what it keeps is
 * delivered. Call once no worker delivers to the job, before its writer drains. */
void dp_select_end(struct dp_select *s);

/* Add s's counters (DP_SELECT_COUNTER_MAX of them) to sum. */
void dp_select_add_counters(const struct dp_select *s, uint64_t *sum);

/* {"apps": [...], "undecided": "keep"|"drop", "sessions": {selected, unselected,
 * undecided_kept, undecided_dropped}, "undecided_at": {packets, wait, memory, end, unknown},
 * "packets_unselected": N, "packets_no_session": N}. New reference. */
json_t *dp_select_counters_json(const struct dp_select_spec *spec, const uint64_t *sum,
	uint64_t packets_unselected);

#endif
