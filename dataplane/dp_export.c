/* dp_export.c — the flow exporter thread: a bounded queue in, IPFIX (libfixbuf) or JSON lines
 * out (see dp_export.h). */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <fixbuf/public.h>

#include "dp_export.h"
#include "tide_log.h"
#include "tide_time.h"

#define DEFAULT_QUEUE 16384
#define RECONNECT_MS 3000
#define TEMPLATE_REFRESH_MS 10000
#define TID_V4 0x7001
#define TID_V6 0x7002
#define SEND_TIMEOUT_S 5
#define UDP_MSG_MAX 1400            /* IPFIX message per datagram: no IP fragments on the way */

/* tide's enterprise elements: what a collector needs to know of the identification */
static fbInfoElement_t tide_export_ie[] = {
	FB_IE_INIT_FULL("tideSubApplication", TIDE_IPFIX_PEN, 1, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		FB_STRING, "the application's sub-class (TLS/SNI-named service, DNS query type)"),
	FB_IE_INIT_FULL("tideLabel", TIDE_IPFIX_PEN, 2, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		FB_STRING, "the session's sub-label: SNI, HTTP host or DNS name"),
	FB_IE_INIT_FULL("tideConfidence", TIDE_IPFIX_PEN, 3, 1, FB_IE_DEFAULT, 0, 100,
		FB_UINT_8, "the combiner's confidence in the application, 0-100"),
	FB_IE_INIT_FULL("tideClassifier", TIDE_IPFIX_PEN, 4, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		FB_STRING, "the classifier whose verdict decided"),
	FB_IE_INIT_FULL("tideService", TIDE_IPFIX_PEN, 5, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		FB_STRING, "who is behind the session (config/services.txt): Google, Netflix"),
	FB_IE_NULL
};

/* In-memory records, laid out without holes so the internal templates need no padding. */
struct ipfix_v4 {
	uint64_t start_ms, end_ms, pkts, octets, rpkts, roctets;
	fbVarfield_t app, sub, label, classifier, service;
	uint32_t src, dst;             /* host order: fixbuf's ipv4Address */
	uint16_t sport, dport;
	uint8_t proto, end_reason, confidence, ip_version;
};
struct ipfix_v6 {
	uint64_t start_ms, end_ms, pkts, octets, rpkts, roctets;
	fbVarfield_t app, sub, label, classifier, service;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t proto, end_reason, confidence, ip_version;
};
_Static_assert(sizeof(struct ipfix_v4) == 48 + 5 * sizeof(fbVarfield_t) + 16, "no holes");
_Static_assert(sizeof(struct ipfix_v6) == 48 + 5 * sizeof(fbVarfield_t) + 40, "no holes");

#define SPEC_HEAD \
	{ "flowStartMilliseconds", 8, 0 }, { "flowEndMilliseconds", 8, 0 }, \
	{ "packetDeltaCount", 8, 0 }, { "octetDeltaCount", 8, 0 }, \
	{ "reversePacketDeltaCount", 8, 0 }, { "reverseOctetDeltaCount", 8, 0 }, \
	{ "applicationName", FB_IE_VARLEN, 0 }, { "tideSubApplication", FB_IE_VARLEN, 0 }, \
	{ "tideLabel", FB_IE_VARLEN, 0 }, { "tideClassifier", FB_IE_VARLEN, 0 }, \
	{ "tideService", FB_IE_VARLEN, 0 }
#define SPEC_TAIL \
	{ "sourceTransportPort", 2, 0 }, { "destinationTransportPort", 2, 0 }, \
	{ "protocolIdentifier", 1, 0 }, { "flowEndReason", 1, 0 }, { "tideConfidence", 1, 0 }, \
	{ "ipVersion", 1, 0 }, FB_IESPEC_NULL

static fbInfoElementSpec_t spec_v4[] = {
	SPEC_HEAD, { "sourceIPv4Address", 4, 0 }, { "destinationIPv4Address", 4, 0 }, SPEC_TAIL
};
static fbInfoElementSpec_t spec_v6[] = {
	SPEC_HEAD, { "sourceIPv6Address", 16, 0 }, { "destinationIPv6Address", 16, 0 }, SPEC_TAIL
};

/* One queued record: the fields IPFIX needs, the names, and the JSON line (json formats). */
struct item {
	struct item *next;
	struct dp_flow_rec_min {
		uint64_t first_ts, last_ts;
		uint64_t pkts[2], bytes[2];
		uint8_t src[16], dst[16];
		uint16_t sport, dport;
		uint8_t proto, family, end, confidence;
	} r;
	char app[64], sub[64], classifier[32], service[CLS_SERVICE_NAME_MAX];
	char label[CLS_LABEL_MAX];
	size_t json_len;
	char json[];
};

struct dp_export {
	struct tide_export_target t;
	uint32_t domain;
	uint32_t cap;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, *tail;
	uint32_t queued;
	bool stopping;
	struct dp_export_stats st;
	pthread_t thread;

	/* exporter thread only */
	fbInfoModel_t *model;
	fBuf_t *fbuf;                /* IPFIX encoder: owns its session and buffer exporter */
	uint32_t pending;            /* records/templates in the message being built */
	uint32_t pending_recs;       /* of which records: sent or lost with that message */
	uint64_t t_sent, t_lost;     /* this batch's outcome, merged into st under mu */
	int fd;                      /* the socket to the collector, both formats */
	uint8_t msg[65535];          /* the IPFIX message fBufEmit encodes into */
	int64_t next_try_ms;         /* reconnect not before (tide_mono_ms) */
	int64_t last_templates_ms;
	bool down_logged;
	char target_name[300];
};

static void
clear_gerror(GError **e)
{
	if (*e) {
		g_error_free(*e);
		*e = NULL;
	}
}

/* --- the socket ----------------------------------------------------------------------- */

/* libfixbuf only encodes (into x->msg, through a buffer exporter); the socket is ours, so a
 * collector that stops reading costs a send timeout, never a hung job. */
static bool
transport_connect(struct dp_export *x, char *why, size_t why_size)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = x->t.tcp ? SOCK_STREAM : SOCK_DGRAM,
	}, *res = NULL;
	int rc = getaddrinfo(x->t.host, x->t.port, &hints, &res);
	if (rc) {
		snprintf(why, why_size, "cannot resolve %s: %s", x->t.host, gai_strerror(rc));
		return false;
	}
	int fd = -1, e = 0;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		/* a collector that stops reading must not hold the exporter (and the job's end) */
		struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(why, why_size, "%s", strerror(e));
		return false;
	}
	x->fd = fd;
	return true;
}

/* One message: a datagram over UDP, all of it over TCP. */
static bool
transport_send(struct dp_export *x, const void *buf, size_t len, char *why, size_t why_size)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(x->fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_size, "%s", errno == EAGAIN ? "the collector stopped reading "
				"(send timed out)" : strerror(errno));
			return false;
		}
		if (!x->t.tcp)
			break;
		off += (size_t)n;
	}
	return true;
}

/* --- IPFIX ------------------------------------------------------------------------------ */

/* Encode what the message holds and send it. */
static bool
ipfix_flush_msg(struct dp_export *x, char *why, size_t why_size)
{
	GError *err = NULL;
	if (!x->pending)
		return true;
	uint32_t recs = x->pending_recs;
	x->pending = x->pending_recs = 0;
	bool ok = fBufEmit(x->fbuf, &err);
	if (!ok) {
		snprintf(why, why_size, "IPFIX: %s", err ? err->message : "emit failed");
		clear_gerror(&err);
	} else {
		size_t len = fbExporterGetMsgLen(fBufGetExporter(x->fbuf));
		ok = len == 0 || transport_send(x, x->msg, len, why, why_size);
	}
	/* a record is sent when its message is */
	if (ok)
		x->t_sent += recs;
	else
		x->t_lost += recs;
	return ok;
}

/* Manual mode: adding to a full message fails with FB_ERROR_EOM. Then the message goes out
 * and the add deserves one more try (true); any other failure, or a second one, does not. */
static bool
full_message_sent(struct dp_export *x, int attempt, GError **err, char *why, size_t why_size)
{
	if (attempt || !g_error_matches(*err, FB_ERROR_DOMAIN, FB_ERROR_EOM))
		return false;
	clear_gerror(err);
	if (ipfix_flush_msg(x, why, why_size))
		return true;
	return false;
}

/* The reason of a failed add (unless a failed send already wrote one), and false. */
static bool
ipfix_failed(GError **err, const char *what, char *why, size_t why_size)
{
	if (*err)
		snprintf(why, why_size, "%s: %s", what, (*err)->message);
	else if (!why[0])
		snprintf(why, why_size, "%s: failed", what);
	clear_gerror(err);
	return false;
}

/* The templates into the message (a message of their own if the current one is full). */
static bool
ipfix_templates(struct dp_export *x, char *why, size_t why_size)
{
	GError *err = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (fbSessionExportTemplates(fBufGetSession(x->fbuf), &err)) {
			x->pending++;
			x->last_templates_ms = tide_mono_ms();
			return true;
		}
		if (!full_message_sent(x, attempt, &err, why, why_size))
			break;
	}
	return ipfix_failed(&err, "IPFIX templates", why, why_size);
}

static bool
ipfix_connect(struct dp_export *x, char *why, size_t why_size)
{
	GError *err = NULL;
	fbSession_t *session = fbSessionAlloc(x->model);
	fbTemplate_t *t4 = fbTemplateAlloc(x->model), *t6 = fbTemplateAlloc(x->model);
	bool ok = fbTemplateAppendSpecArray(t4, spec_v4, 0, &err) &&
		fbTemplateAppendSpecArray(t6, spec_v6, 0, &err);
	if (ok) {
		fbSessionSetDomain(session, x->domain);
		/* each template is the internal (memory) and the external (wire) one at once */
		ok = fbSessionAddTemplate(session, TRUE, TID_V4, t4, &err) &&
			fbSessionAddTemplate(session, FALSE, TID_V4, t4, &err) &&
			fbSessionAddTemplate(session, TRUE, TID_V6, t6, &err) &&
			fbSessionAddTemplate(session, FALSE, TID_V6, t6, &err);
	} else {
		fbTemplateFreeUnused(t4);
		fbTemplateFreeUnused(t6);
	}
	if (!ok) {
		snprintf(why, why_size, "IPFIX templates: %s", err ? err->message : "?");
		clear_gerror(&err);
		fbSessionFree(session);
		return false;
	}
	if (!transport_connect(x, why, why_size)) {
		fbSessionFree(session);
		return false;
	}
	/* messages no bigger than a datagram over UDP (no IP fragments), 64 KiB over TCP */
	x->fbuf = fBufAllocForExport(session, fbExporterAllocBuffer(x->msg,
		x->t.tcp ? (uint16_t)sizeof(x->msg) : UDP_MSG_MAX));
	fBufSetAutomaticMode(x->fbuf, FALSE);
	x->pending = 0;
	return ipfix_templates(x, why, why_size) && ipfix_flush_msg(x, why, why_size);
}

static void
ipfix_disconnect(struct dp_export *x)
{
	x->t_lost += x->pending_recs;   /* appended, never sent */
	x->pending = x->pending_recs = 0;
	if (x->fbuf)
		fBufFree(x->fbuf);
	x->fbuf = NULL;
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

static uint8_t
end_reason(uint8_t end)
{
	switch (end) {   /* RFC 5102 flowEndReason */
	case DP_END_TIMEOUT: return 1;   /* idle timeout */
	case DP_END_CLOSED: return 3;    /* end of flow detected */
	case DP_END_EVICTED: return 5;   /* lack of resources */
	case DP_END_REALTIME: return 2;  /* reported while active (classified) */
	default: return 4;               /* forced end: the capture ended */
	}
}

static void
varfield(fbVarfield_t *v, char *s)
{
	v->buf = (uint8_t *)s;
	v->len = strlen(s);
}

static bool
ipfix_send(struct dp_export *x, struct item *it, char *why, size_t why_size)
{
	GError *err = NULL;
	const struct dp_flow_rec_min *r = &it->r;
	union {
		struct ipfix_v4 v4;
		struct ipfix_v6 v6;
	} u;
	memset(&u, 0, sizeof(u));
	/* the common head is laid out alike in both */
	struct ipfix_v4 *h = &u.v4;
	h->start_ms = r->first_ts / 1000000;
	h->end_ms = r->last_ts / 1000000;
	h->pkts = r->pkts[0];
	h->octets = r->bytes[0];
	h->rpkts = r->pkts[1];
	h->roctets = r->bytes[1];
	varfield(&h->app, it->app);
	varfield(&h->sub, it->sub);
	varfield(&h->label, it->label);
	varfield(&h->classifier, it->classifier);
	varfield(&h->service, it->service);
	uint16_t tid;
	size_t size;
	if (r->family == 4) {
		h->src = (uint32_t)r->src[0] << 24 | (uint32_t)r->src[1] << 16 |
			(uint32_t)r->src[2] << 8 | r->src[3];
		h->dst = (uint32_t)r->dst[0] << 24 | (uint32_t)r->dst[1] << 16 |
			(uint32_t)r->dst[2] << 8 | r->dst[3];
		h->sport = r->sport;
		h->dport = r->dport;
		h->proto = r->proto;
		h->end_reason = end_reason(r->end);
		h->confidence = r->confidence;
		h->ip_version = 4;
		tid = TID_V4;
		size = sizeof(u.v4);
	} else {
		struct ipfix_v6 *v = &u.v6;
		memcpy(v->src, r->src, 16);
		memcpy(v->dst, r->dst, 16);
		v->sport = r->sport;
		v->dport = r->dport;
		v->proto = r->proto;
		v->end_reason = end_reason(r->end);
		v->confidence = r->confidence;
		v->ip_version = 6;
		tid = TID_V6;
		size = sizeof(u.v6);
	}
	/* manual mode: a full message says FB_ERROR_EOM; send it and append to the next one */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (fBufSetInternalTemplate(x->fbuf, tid, &err) &&
		    fBufSetExportTemplate(x->fbuf, tid, &err) &&
		    fBufAppend(x->fbuf, (uint8_t *)&u, size, &err)) {
			x->pending++;
			x->pending_recs++;
			return true;
		}
		if (!full_message_sent(x, attempt, &err, why, why_size))
			break;
	}
	return ipfix_failed(&err, "IPFIX", why, why_size);
}

/* End of a batch: UDP templates again when due (RFC 7011, 10.3.6), then the message out. */
static bool
ipfix_flush(struct dp_export *x, char *why, size_t why_size)
{
	if (!x->t.tcp && tide_mono_ms() - x->last_templates_ms >= TEMPLATE_REFRESH_MS &&
	    !ipfix_templates(x, why, why_size))
		return false;
	return ipfix_flush_msg(x, why, why_size);
}

/* --- JSON lines ------------------------------------------------------------------------- */

/* One line per record over TCP, one record per datagram over UDP. */
static bool
json_send(struct dp_export *x, struct item *it, char *why, size_t why_size)
{
	it->json[it->json_len] = '\n';
	return transport_send(x, it->json, it->json_len + 1, why, why_size);
}

/* --- the thread ------------------------------------------------------------------------- */

static bool
connected(const struct dp_export *x)
{
	return x->fd >= 0 && (x->t.format != TIDE_EXPORT_IPFIX || x->fbuf);
}

static void
disconnect(struct dp_export *x)
{
	ipfix_disconnect(x);   /* the encoder if any, and the socket */
}

static void
outage(struct dp_export *x, const char *why)
{
	if (!x->down_logged)
		tide_warn("export", "flow export to %s: %s (records are counted as lost until it "
			"answers; retrying every %d s)", x->target_name, why, RECONNECT_MS / 1000);
	x->down_logged = true;
	disconnect(x);
	x->next_try_ms = tide_mono_ms() + RECONNECT_MS;
}

static bool
ensure_connected(struct dp_export *x)
{
	if (connected(x))
		return true;
	if (tide_mono_ms() < x->next_try_ms)
		return false;
	char why[512] = "";
	bool ok = x->t.format == TIDE_EXPORT_IPFIX ? ipfix_connect(x, why, sizeof(why))
		: transport_connect(x, why, sizeof(why));
	if (!ok) {
		outage(x, why);
		return false;
	}
	if (x->down_logged)
		tide_info("export", "flow export to %s: connected", x->target_name);
	x->down_logged = false;
	return true;
}

/* Send a batch taken off the queue; its records end up in t_sent or t_lost. */
static void
send_batch(struct dp_export *x, struct item *batch)
{
	char why[512] = "";
	bool ok = true;
	for (struct item *it = batch; it; it = it->next) {
		if (!ok || !ensure_connected(x)) {
			ok = false;
			x->t_lost++;
			continue;
		}
		bool done;
		if (x->t.format == TIDE_EXPORT_IPFIX) {
			done = ipfix_send(x, it, why, sizeof(why));
		} else {
			done = json_send(x, it, why, sizeof(why));
			x->t_sent += done;
		}
		if (!done) {
			outage(x, why);
			ok = false;
			x->t_lost++;
		}
	}
	if (ok && connected(x) && x->t.format == TIDE_EXPORT_IPFIX &&
	    !ipfix_flush(x, why, sizeof(why)))
		outage(x, why);
}

static void *
export_thread(void *arg)
{
	struct dp_export *x = arg;
	pthread_mutex_lock(&x->mu);
	for (;;) {
		while (!x->head && !x->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&x->cv, &x->mu, &until);
			if (!x->head)
				break;   /* idle second: refresh UDP templates below */
		}
		struct item *batch = x->head;
		bool stop = x->stopping && !batch;
		x->head = x->tail = NULL;
		x->queued = 0;
		pthread_mutex_unlock(&x->mu);
		if (stop)
			return NULL;
		if (batch)
			send_batch(x, batch);
		if (!batch && x->fbuf && !x->t.tcp &&
		    tide_mono_ms() - x->last_templates_ms >= TEMPLATE_REFRESH_MS) {
			char why[512] = "";
			if (!ipfix_flush(x, why, sizeof(why)))
				outage(x, why);
		}
		while (batch) {
			struct item *n = batch->next;
			free(batch);
			batch = n;
		}
		pthread_mutex_lock(&x->mu);
		x->st.sent += x->t_sent;
		x->st.send_failed += x->t_lost;
		x->t_sent = x->t_lost = 0;
		pthread_cond_broadcast(&x->cv);   /* dp_export_close waits for the drain */
	}
}

struct dp_export *
dp_export_open(const struct tide_export_target *t, uint32_t queue, uint32_t observation_domain,
	char *err, size_t err_size)
{
	struct dp_export *x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, err_size, "flow export: out of memory");
		return NULL;
	}
	x->t = *t;
	x->cap = queue ? queue : DEFAULT_QUEUE;
	x->domain = observation_domain;
	x->fd = -1;
	snprintf(x->target_name, sizeof(x->target_name), "%s %s:%s",
		t->format == TIDE_EXPORT_IPFIX ? (t->tcp ? "ipfix+tcp" : "ipfix+udp")
		: (t->tcp ? "json+tcp" : "json+udp"), t->host, t->port);
	if (t->format == TIDE_EXPORT_IPFIX) {
		x->model = fbInfoModelAlloc();
		fbInfoModelAddElementArray(x->model, tide_export_ie);
	}
	pthread_mutex_init(&x->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&x->thread, NULL, export_thread, x);
	if (rc) {
		snprintf(err, err_size, "flow export: cannot start its thread: %s", strerror(rc));
		if (x->model)
			fbInfoModelFree(x->model);
		free(x);
		return NULL;
	}
	tide_info("export", "flow records go to %s as they end", x->target_name);
	return x;
}

static void
copy_name(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s ? s : "");
}

void
dp_export_push(struct dp_export *x, const struct dp_flow_rec *rec,
	const struct dp_export_names *names, const char *json, size_t json_len)
{
	if (!x)
		return;
	if (x->t.format != TIDE_EXPORT_JSON)
		json_len = 0;
	pthread_mutex_lock(&x->mu);
	bool full = x->queued >= x->cap;
	if (full)
		x->st.queue_full++;
	pthread_mutex_unlock(&x->mu);
	if (full)
		return;
	struct item *it = malloc(sizeof(*it) + json_len + 1);
	if (!it) {
		pthread_mutex_lock(&x->mu);
		x->st.queue_full++;
		pthread_mutex_unlock(&x->mu);
		return;
	}
	it->next = NULL;
	struct dp_flow_rec_min *r = &it->r;
	r->first_ts = rec->first_ts;
	r->last_ts = rec->last_ts;
	for (int d = 0; d < 2; d++) {
		r->pkts[d] = rec->pkts[d];
		r->bytes[d] = rec->bytes[d];
	}
	memcpy(r->src, rec->key.src, 16);
	memcpy(r->dst, rec->key.dst, 16);
	r->sport = rec->key.sport;
	r->dport = rec->key.dport;
	r->proto = rec->key.proto;
	r->family = rec->key.family;
	r->end = rec->end;
	r->confidence = rec->d.confidence;
	copy_name(it->app, sizeof(it->app), names ? names->app : NULL);
	copy_name(it->sub, sizeof(it->sub), names ? names->sub : NULL);
	copy_name(it->classifier, sizeof(it->classifier), names ? names->classifier : NULL);
	copy_name(it->service, sizeof(it->service), names ? names->service : NULL);
	copy_name(it->label, sizeof(it->label), rec->label);
	it->json_len = json_len;
	if (json_len)
		memcpy(it->json, json, json_len);
	it->json[json_len] = '\0';
	pthread_mutex_lock(&x->mu);
	if (x->tail)
		x->tail->next = it;
	else
		x->head = it;
	x->tail = it;
	x->queued++;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

void
dp_export_get_stats(struct dp_export *x, struct dp_export_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!x)
		return;
	pthread_mutex_lock(&x->mu);
	*s = x->st;
	pthread_mutex_unlock(&x->mu);
}

void
dp_export_close(struct dp_export *x, unsigned int drain_ms, struct dp_export_stats *final)
{
	if (final)
		memset(final, 0, sizeof(*final));
	if (!x)
		return;
	pthread_mutex_lock(&x->mu);
	int64_t until = tide_mono_ms() + (int64_t)drain_ms;
	while (x->head && tide_mono_ms() < until) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += 50 * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&x->cv, &x->mu, &t);
	}
	/* what is still queued after the drain is lost: the collector did not take it */
	x->st.send_failed += x->queued;
	for (struct item *it = x->head, *n; it; it = n) {
		n = it->next;
		free(it);
	}
	x->head = x->tail = NULL;
	x->queued = 0;
	x->stopping = true;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	pthread_join(x->thread, NULL);
	disconnect(x);
	x->st.send_failed += x->t_lost;   /* nothing is left in flight: the counts are final */
	if (final)
		*final = x->st;
	if (x->model)
		fbInfoModelFree(x->model);
	struct dp_export_stats s = x->st;
	tide_info("export", "flow export to %s: %llu records sent, %llu lost (queue full), "
		"%llu lost (collector)", x->target_name, (unsigned long long)s.sent,
		(unsigned long long)s.queue_full, (unsigned long long)s.send_failed);
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->mu);
	free(x);
}
