/* dp_select.c — jobs that keep sessions by application (see dp_select.h).
 *
 * A session's select word: 0 before the selection saw it, SEL_KEEP, SEL_DROP, or SEL_PENDING
 * plus the index of its pending entry. Pending entries form a list oldest-first (by first
 * packet), so the wait bound and the memory cap both end the oldest wait first; each entry
 * chains its held packets in arrival order through a slot array with a free list. Nothing is
 * allocated per packet. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_capture.h"
#include "dp_select.h"
#include "dp_worker.h"

#define SEL_KEEP 1u
#define SEL_DROP 2u
#define SEL_PENDING 3u
#define NIL UINT32_MAX

struct pend {
	struct dp_sess_ref ref;
	uint64_t first_ts;
	uint32_t prev, next;          /* the oldest-first list; next is the free list's link too */
	uint32_t first, last;         /* held slots, in order */
	uint32_t n;
	bool in_use;
};

struct held {
	struct rte_mbuf *m;
	uint32_t next;
};

struct dp_select {
	const struct dp_select_spec *spec;
	struct dp_capture *c;
	struct dp_worker *w;
	unsigned int job;
	uint32_t held_max;
	struct pend *pend;            /* held_max entries: a pending session holds >= 1 packet, */
	uint32_t free_pend;           /* or none when there are no shards (then as many as the */
	uint32_t oldest, newest;      /* table could hold are bounded by held_max too) */
	struct held *held;
	uint32_t free_held;
	uint64_t counters[DP_SELECT_COUNTER_MAX];
};

/* ---- the job's list ------------------------------------------------------------------------ */

static inline bool
bit(const uint64_t *bits, uint16_t id)
{
	return bits[id >> 6] >> (id & 63) & 1;
}

int
dp_select_spec_make(struct dp_select_spec *s, const char *apps, bool keep_undecided,
	uint32_t max_packets, uint32_t wait_s, const struct cls_apps *app_table,
	const struct cls_services *services, char *why, size_t why_size)
{
	memset(s, 0, sizeof(*s));
	if (tide_job_apps_parse(apps, s->apps, sizeof(s->apps), why, why_size) != 0)
		return -EINVAL;
	if (!s->apps[0]) {
		snprintf(why, why_size, "no application or service named");
		return -EINVAL;
	}
	s->keep_undecided = keep_undecided;
	s->max_packets = max_packets ? max_packets : TIDE_JOB_APPS_PACKETS_DEFAULT;
	s->max_wait_ns = (uint64_t)(wait_s ? wait_s : TIDE_JOB_APPS_WAIT_DEFAULT) * 1000000000ull;
	char name[TIDE_JOB_APP_NAME_MAX + 1];
	for (const char *p = s->apps; (p = tide_job_apps_next(p, name, sizeof(name))) != NULL;) {
		bool known = false;
		char *slash = strchr(name, '/');
		if (slash) { /* a variant: "QUIC/HTTP3" */
			*slash = '\0';
			uint16_t app = cls_apps_id(app_table, name);
			uint16_t sub = app ? cls_apps_sub_id(app_table, app, slash + 1) : 0;
			*slash = '/';
			if (sub) {
				s->subs[s->n_subs++] = (uint32_t)app << 16 | sub;
				known = true;
			}
		} else {
			uint16_t app = cls_apps_id(app_table, name);
			uint16_t svc = cls_services_id(services, name);
			if (app)
				s->app_bits[app >> 6] |= 1ull << (app & 63);
			if (svc)
				s->svc_bits[svc >> 6] |= 1ull << (svc & 63);
			known = app || svc;
		}
		if (!known) {
			snprintf(why, why_size, "'%s' is neither an application (tide_apps.txt) nor a "
				"service (services.txt)", name);
			return -EINVAL;
		}
	}
	return 0;
}

int
dp_select_check_names(const char *apps, const char *config_dir, char *why, size_t why_size)
{
	char path[4200], err[512];
	snprintf(path, sizeof(path), "%s/tide_apps.txt", config_dir);
	struct cls_apps *a = cls_apps_load(path, err, sizeof(err));
	if (!a) {
		snprintf(why, why_size, "%s", err);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/services.txt", config_dir);
	struct cls_services *sv = cls_services_load(path, err, sizeof(err));
	if (!sv && errno != ENOENT) {
		cls_apps_free(a);
		snprintf(why, why_size, "%s", err);
		return -EINVAL;
	}
	struct dp_select_spec *s = malloc(sizeof(*s));
	int rc = -ENOMEM;
	if (s)
		rc = dp_select_spec_make(s, apps, false, 0, 0, a, sv, why, why_size);
	else
		snprintf(why, why_size, "out of memory");
	free(s);
	cls_services_free(sv);
	cls_apps_free(a);
	return rc;
}

bool
dp_select_wants(const struct dp_select_spec *s, const struct cls_decision *d)
{
	if (!d->app_id)
		return false;
	if (bit(s->app_bits, d->app_id) || (d->service_id && bit(s->svc_bits, d->service_id)))
		return true;
	for (uint32_t i = 0; i < s->n_subs; i++)
		if (s->subs[i] == ((uint32_t)d->app_id << 16 | d->sub_id))
			return true;
	return false;
}

/* ---- per worker ---------------------------------------------------------------------------- */

struct dp_select *
dp_select_create(struct dp_capture *c, unsigned int worker, unsigned int job,
	const struct dp_select_spec *spec, uint32_t held_max)
{
	struct dp_select *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->spec = spec;
	s->c = c;
	s->w = &c->workers[worker];
	s->job = job;
	s->held_max = held_max ? held_max : 1;
	s->pend = calloc(s->held_max, sizeof(*s->pend));
	s->held = calloc(s->held_max, sizeof(*s->held));
	if (!s->pend || !s->held) {
		dp_select_destroy(s);
		return NULL;
	}
	for (uint32_t i = 0; i < s->held_max; i++) {
		s->pend[i].next = i + 1 < s->held_max ? i + 1 : NIL;
		s->held[i].next = i + 1 < s->held_max ? i + 1 : NIL;
	}
	s->free_pend = s->free_held = 0;
	s->oldest = s->newest = NIL;
	return s;
}

void
dp_select_destroy(struct dp_select *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; s->pend && s->held && i < s->held_max; i++)
		if (s->pend[i].in_use)
			for (uint32_t h = s->pend[i].first; h != NIL; h = s->held[h].next)
				rte_pktmbuf_free(s->held[h].m);
	free(s->pend);
	free(s->held);
	free(s);
}

static struct dp_sessions *
table(const struct dp_select *s)
{
	return s->w->sess[s->job];
}

/* A packet the selection leaves out: in `filtered` by way of `unselected`, not a loss. */
static inline void
count_unselected(struct dp_select *s, uint64_t n)
{
	s->w->job[s->job].unselected += n;
}

static void
list_unlink(struct dp_select *s, uint32_t i)
{
	struct pend *p = &s->pend[i];
	if (p->prev != NIL)
		s->pend[p->prev].next = p->next;
	else
		s->oldest = p->next;
	if (p->next != NIL)
		s->pend[p->next].prev = p->prev;
	else
		s->newest = p->prev;
}

/* The pending session i is judged: its held packets go to the writer in order (keep) or are
 * freed and counted (drop); its word says so from now on. */
static void
resolve(struct dp_select *s, uint32_t i, uint32_t *word, bool keep)
{
	struct pend *p = &s->pend[i];
	struct dp_sess_ref refs[DP_MAX_JOBS];
	refs[s->job] = p->ref;
	uint32_t h = p->first;
	while (h != NIL) {
		struct rte_mbuf *m = s->held[h].m;
		uint32_t next = s->held[h].next;
		if (keep) {
			/* the parse result only serves anonymisation: redo it rather than keep it */
			struct dp_pkt_info pi;
			dp_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
				s->c->links[dp_meta(m)->link].linktype, &pi);
			dp_worker_deliver(s->c, s->w, m, &pi, 1u << s->job, refs);
		} else {
			count_unselected(s, 1);
			rte_pktmbuf_free(m);
		}
		s->held[h].next = s->free_held;
		s->free_held = h;
		h = next;
	}
	if (p->first != NIL)
		atomic_fetch_sub_explicit(&s->w->select_held, p->n, memory_order_relaxed);
	list_unlink(s, i);
	p->in_use = false;
	p->next = s->free_pend;
	s->free_pend = i;
	if (word)
		*word = keep ? SEL_KEEP : SEL_DROP;
}

/* An undecided session meets a bound: the job's policy, counted under the bound. */
static void
resolve_undecided(struct dp_select *s, uint32_t i, uint32_t *word, enum dp_select_counter at)
{
	bool keep = s->spec->keep_undecided;
	s->counters[at]++;
	s->counters[keep ? DP_SEL_UNDECIDED_KEPT : DP_SEL_UNDECIDED_DROPPED]++;
	resolve(s, i, word, keep);
}

/* the word of pending entry i's session (NULL if it ended: cannot happen while pending) */
static uint32_t *
word_of(struct dp_select *s, uint32_t i)
{
	return dp_session_word(table(s), &s->pend[i].ref);
}

/* The oldest wait ends to make room (the memory cap). False when this job holds nothing. */
static bool
free_oldest(struct dp_select *s)
{
	if (s->oldest == NIL || s->pend[s->oldest].n == 0)
		return false;
	uint32_t i = s->oldest;
	resolve_undecided(s, i, word_of(s, i), DP_SEL_AT_MEMORY);
	return true;
}

/* Hold m for pending entry i. False when the cap leaves no room even after freeing others. */
static bool
hold(struct dp_select *s, uint32_t i, struct rte_mbuf *m)
{
	const uint32_t cap = s->c->select_held_max;
	while ((atomic_load_explicit(&s->w->select_held, memory_order_relaxed) >= cap ||
		       s->free_held == NIL) && s->oldest != i && free_oldest(s))
		;
	if (atomic_load_explicit(&s->w->select_held, memory_order_relaxed) >= cap ||
		s->free_held == NIL)
		return false;
	uint32_t h = s->free_held;
	s->free_held = s->held[h].next;
	dp_mbuf_ref_all(m, 1); /* ours until judged; the caller's reference goes its way */
	s->held[h].m = m;
	s->held[h].next = NIL;
	struct pend *p = &s->pend[i];
	if (p->first == NIL)
		p->first = h;
	else
		s->held[p->last].next = h;
	p->last = h;
	p->n++;
	atomic_fetch_add_explicit(&s->w->select_held, 1, memory_order_relaxed);
	return true;
}

bool
dp_select_packet(struct dp_select *s, struct rte_mbuf *m, const struct dp_sess_ref *ref,
	uint64_t ts_ns)
{
	uint32_t *word = ref->pos >= 0 ? dp_session_word(table(s), ref) : NULL;
	if (!word) { /* no session to wait for: undecided at once */
		s->counters[DP_SEL_NO_SESSION]++;
		if (!s->spec->keep_undecided)
			count_unselected(s, 1);
		return s->spec->keep_undecided;
	}
	if (*word == SEL_KEEP)
		return true;
	if (*word == SEL_DROP) {
		count_unselected(s, 1);
		return false;
	}
	struct cls_decision d;
	if (dp_session_settled(table(s), ref, &d)) {
		bool keep;
		if (!d.app_id) {
			/* decided unknown: as undecided, whichever bound it would have met */
			keep = s->spec->keep_undecided;
			s->counters[DP_SEL_AT_UNKNOWN]++;
			s->counters[keep ? DP_SEL_UNDECIDED_KEPT : DP_SEL_UNDECIDED_DROPPED]++;
		} else {
			keep = dp_select_wants(s->spec, &d);
			s->counters[keep ? DP_SEL_SELECTED : DP_SEL_UNSELECTED]++;
		}
		if (*word >= SEL_PENDING)
			resolve(s, *word - SEL_PENDING, word, keep);
		*word = keep ? SEL_KEEP : SEL_DROP;
		if (!keep)
			count_unselected(s, 1);
		return keep;
	}
	/* undecided: wait, within the bounds */
	uint32_t i;
	if (*word == 0) {
		if (s->free_pend == NIL) {
			/* as many sessions wait as packets may be held: the oldest gives way */
			uint32_t o = s->oldest;
			resolve_undecided(s, o, word_of(s, o), DP_SEL_AT_MEMORY);
		}
		i = s->free_pend;
		struct pend *p = &s->pend[i];
		s->free_pend = p->next;
		p->ref = *ref;
		p->first_ts = ts_ns;
		p->first = p->last = NIL;
		p->n = 0;
		p->in_use = true;
		p->next = NIL;
		p->prev = s->newest;
		if (s->newest != NIL)
			s->pend[s->newest].next = i;
		else
			s->oldest = i;
		s->newest = i;
		*word = SEL_PENDING + i;
	} else {
		i = *word - SEL_PENDING;
	}
	struct pend *p = &s->pend[i];
	if (m && !hold(s, i, m)) {
		/* the cap: this session's wait ends here, and this packet goes the same way */
		resolve_undecided(s, i, word, DP_SEL_AT_MEMORY);
		if (!s->spec->keep_undecided)
			count_unselected(s, 1);
		return s->spec->keep_undecided;
	}
	if (!m)
		p->n++; /* counted for the packet bound only: nothing is held */
	if (p->n >= s->spec->max_packets)
		resolve_undecided(s, i, word, DP_SEL_AT_PACKETS);
	else if (ts_ns >= p->first_ts + s->spec->max_wait_ns)
		resolve_undecided(s, i, word, DP_SEL_AT_WAIT);
	return false; /* held (and delivered by resolve when kept), or counted when dropped */
}

bool
dp_select_left_out(struct dp_select *s, const struct dp_sess_ref *ref)
{
	const uint32_t *word = ref->pos >= 0 ? dp_session_word(table(s), ref) : NULL;
	if (!word || *word != SEL_DROP)
		return false;
	count_unselected(s, 1);
	return true;
}

void
dp_select_tick(struct dp_select *s, uint64_t now_ns)
{
	uint32_t i;
	while ((i = s->oldest) != NIL && now_ns >= s->pend[i].first_ts + s->spec->max_wait_ns)
		resolve_undecided(s, i, word_of(s, i), DP_SEL_AT_WAIT);
}

bool
dp_select_ending(void *arg, const struct dp_sess_ref *ref, uint32_t *word,
	const struct cls_decision *d)
{
	struct dp_select *s = arg;
	(void)ref; /* a pending session's entry holds its reference */
	if (*word == SEL_KEEP)
		return true;
	if (*word == SEL_DROP)
		return false;
	/* still waiting (or never seen): the final decision, as TIE's final dump gives it */
	bool keep;
	if (d->app_id) {
		keep = dp_select_wants(s->spec, d);
		s->counters[keep ? DP_SEL_SELECTED : DP_SEL_UNSELECTED]++;
		if (*word >= SEL_PENDING)
			resolve(s, *word - SEL_PENDING, word, keep);
	} else if (*word >= SEL_PENDING) {
		resolve_undecided(s, *word - SEL_PENDING, word, DP_SEL_AT_END);
		keep = *word == SEL_KEEP;
	} else {
		keep = s->spec->keep_undecided;
		s->counters[DP_SEL_AT_END]++;
		s->counters[keep ? DP_SEL_UNDECIDED_KEPT : DP_SEL_UNDECIDED_DROPPED]++;
	}
	*word = keep ? SEL_KEEP : SEL_DROP;
	/* what was just delivered reaches the ring now, while the session can still take back a
	 * packet the ring refuses (its record is made after this returns) */
	if (keep)
		dp_worker_flush(s->c, s->w);
	return keep;
}

void
dp_select_end(struct dp_select *s)
{
	uint32_t i;
	while ((i = s->oldest) != NIL)
		resolve_undecided(s, i, word_of(s, i), DP_SEL_AT_END);
	dp_worker_flush(s->c, s->w);
}

void
dp_select_add_counters(const struct dp_select *s, uint64_t *sum)
{
	for (unsigned int k = 0; s && k < DP_SELECT_COUNTER_MAX; k++)
		sum[k] += s->counters[k];
}

json_t *
dp_select_counters_json(const struct dp_select_spec *spec, const uint64_t *sum,
	uint64_t packets_unselected)
{
	json_t *apps = json_array();
	char name[TIDE_JOB_APP_NAME_MAX + 1];
	for (const char *p = spec->apps; (p = tide_job_apps_next(p, name, sizeof(name))) != NULL;)
		json_array_append_new(apps, json_string(name));
	return json_pack("{s:o, s:s, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I}",
		"apps", apps, "undecided", spec->keep_undecided ? "keep" : "drop",
		"sessions",
		"selected", (json_int_t)sum[DP_SEL_SELECTED],
		"unselected", (json_int_t)sum[DP_SEL_UNSELECTED],
		"undecided_kept", (json_int_t)sum[DP_SEL_UNDECIDED_KEPT],
		"undecided_dropped", (json_int_t)sum[DP_SEL_UNDECIDED_DROPPED],
		"undecided_at",
		"packets", (json_int_t)sum[DP_SEL_AT_PACKETS],
		"wait", (json_int_t)sum[DP_SEL_AT_WAIT],
		"memory", (json_int_t)sum[DP_SEL_AT_MEMORY],
		"end", (json_int_t)sum[DP_SEL_AT_END],
		"unknown", (json_int_t)sum[DP_SEL_AT_UNKNOWN],
		"packets_unselected", (json_int_t)packets_unselected,
		"packets_no_session", (json_int_t)sum[DP_SEL_NO_SESSION]);
}
