/* cls_ndpi.c — nDPI (Debian's libndpi 4.2) behind tide's classifier plugin ABI.
 *
 * Why: nDPI knows ~280 protocols and services that tide has no dissector or signature for
 * (Dropbox LAN sync, Spotify, CAPWAP, TeamViewer, WhatsApp, Discord, RTP/RTCP, DTLS, …). As a
 * plugin its verdict is one more answer for the combiner, ranked as CLS_EV_DPI: above tide's
 * signatures, shapes, statistics and ports, below tide's own dissectors and expected sessions.
 *
 * How: one nDPI detection module per worker (worker_init; nDPI's module is not thread-safe and
 * ndpiReader also keeps one per thread); per session only a pointer in the engine's slot, to a
 * block holding nDPI's flow struct, allocated at the session's first packet that carries an IP
 * header and freed at session_free. nDPI is fed the IP packet (cls_packet.l3). The session is
 * ready once nDPI has a DPI verdict or after max_packets packets (then ndpi_detection_giveup()
 * asks nDPI for its best guess — by port or address, reported as CLS_EV_PORT with a low
 * confidence — and, without one, the result says CLS_RES_GAVE_UP).
 *
 * Names: nDPI's "master.app" pair (TLS.Google) is mapped to tide's application table with the
 * protocol first: master TLS, app Google → tide TLS; the service nDPI recognised (Google) is
 * the result's service_id, looked up in tide's service table (config/services.txt) by name or
 * through svc_aliases (GMail, GoogleDocs → Google). The label stays empty: the sub-label is
 * the SNI, HTTP host or DNS name tide's dissectors read. A name tide's application table lacks
 * is an unknown answer from this plugin (counted in dump_statistics), never an invented
 * application; a service the service table lacks is no service.
 * Verdicts of nDPI's loose dissectors (a few bytes or a length: Skype_Teams, games) are
 * reported as CLS_EV_SHAPE, which alone does not decide.
 *
 * Options (config/enabled_plugins): max_packets=N (1..255, default 24). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ndpi_api.h>

#include "cls_apps.h"
#include "cls_plugin.h"
#include "cls_services.h"

#define NDPI_MAX_PACKETS_DEFAULT 24

/* Confidences tide puts on nDPI's answers, by what nDPI says they rest on. */
#define CONF_DPI 90        /* NDPI_CONFIDENCE_DPI: its dissector matched */
#define CONF_DPI_CACHE 80  /* NDPI_CONFIDENCE_DPI_CACHE: correlated with an earlier session */
#define CONF_BY_IP 40      /* NDPI_CONFIDENCE_MATCH_BY_IP: a known address block */
#define CONF_BY_PORT 30    /* NDPI_CONFIDENCE_MATCH_BY_PORT or a give-up guess */
#define CONF_LOOSE 60      /* a DPI verdict of a loose dissector (below) */

/* nDPI names whose tide name differs (as scripts/accuracy-report.py maps ndpiReader's output);
 * every other nDPI name is looked up as is (case-insensitive) in config/tide_apps.txt. */
static const struct {
	const char *ndpi, *app, *sub;
} aliases[] = {
	{"FTP_CONTROL", "FTP", NULL},
	{"FTP_DATA", "FTP", "data"},
	{"DHCPV6", "DHCP", "DHCPv6"},
	{"ICMPV6", "ICMP", "ICMPv6"},
	{"SMBv1", "SMB", NULL},
	{"SMBv23", "SMB", NULL},
	{"MsSQL-TDS", "MS-SQL", NULL},
	{"Jabber", "XMPP", NULL},
	{"MDNS", "mDNS", NULL},
	{"COAP", "CoAP", NULL},
	{"Radius", "RADIUS", NULL},
	{"SMTPS", "Submission", NULL},
	{"POPS", "POP3S", NULL},
	{"HTTP_Connect", "HTTP-Proxy", NULL},
	{"HTTP_Proxy", "HTTP-Proxy", NULL},
	{"DoH_DoT", "DoH", NULL},
	{"DNScrypt", "DNS", NULL},
	{"RTCP", "RTP", "RTCP"},
	{"WhatsAppCall", "WhatsApp", NULL},
	{"WhatsAppFiles", "WhatsApp", NULL},
	{"SignalVoip", "Signal", NULL},
	{"GTP_U", "GTP", NULL},
	{"GTP_C", "GTP", NULL},
	{"GTP_PRIME", "GTP", NULL},
};

/* nDPI names of a service's products or sub-services, and the service of config/services.txt
 * they belong to; every other nDPI name is looked up as is (case-insensitive: NetFlix, Github). */
static const struct {
	const char *ndpi, *service;
} svc_aliases[] = {
	{"GMail", "Google"}, {"GoogleMaps", "Google"}, {"GooglePlus", "Google"},
	{"GoogleDrive", "Google"}, {"GoogleDocs", "Google"}, {"GoogleServices", "Google"},
	{"GoogleHangoutDuo", "Google"}, {"GoogleClassroom", "Google"}, {"PlayStore", "Google"},
	{"YouTubeUpload", "YouTube"},
	{"Messenger", "Facebook"}, {"FacebookVoip", "Facebook"},
	{"WhatsAppCall", "WhatsApp"}, {"WhatsAppFiles", "WhatsApp"},
	{"Microsoft365", "Office365"}, {"Hotmail", "Office365"}, {"Skype_Teams", "Teams"},
	{"SkypeCall", "Microsoft"}, {"MS_OneDrive", "Microsoft"}, {"Azure", "Microsoft"},
	{"Xbox", "Microsoft"},
	{"AppleiCloud", "Apple"}, {"AppleiTunes", "Apple"}, {"AppleStore", "Apple"},
	{"ApplePush", "Apple"}, {"AppleSiri", "Apple"}, {"iCloudPrivateRelay", "Apple"},
	{"AmazonAlexa", "Amazon"}, {"AmazonVideo", "Amazon"}, {"AmazonAWS", "AWS"},
};

/* tide's (app, sub) and service for one nDPI protocol id, and nDPI's name for it */
struct tide_app {
	uint16_t app_id, sub_id;
	uint16_t service_id;         /* config/services.txt; 0: not a service tide lists */
	uint8_t loose;               /* in loose[] */
	char name[32];
};

/* nDPI 4.2 dissectors that decide on a few bytes or a packet length (Skype's UDP check, most
 * game protocols): their verdict is reported as CLS_EV_SHAPE with CONF_LOOSE, so a tide
 * signature or dissector beats it and, alone, it does not decide (cls_engine.h). On the
 * project's labelled traffic nDPI called SNMP on a non-standard port Skype_Teams. */
static const char *const loose[] = {
	"Skype_Teams", "SkypeCall", "TeamSpeak", "Viber", "Xbox", "Playstation", "Steam",
	"HalfLife2", "Warcraft3", "WorldOfKungFu", "WorldOfWarcraft", "Armagetron", "Crossfire",
	"Dofus", "Fiesta", "Florensia", "Guildwars", "MapleStory", "Starcraft", "AmongUs", "CSGO",
	"Ayiya", "EAQ", "TruPhone", "VHUA", "UBNTAC2", "RX", "Mining",
};

/* global, read-only after enable(): the option and the id map, built once from a detection
 * module made for the purpose (every worker's module has the same ids) */
struct ndpi_ctx {
	const struct cls_apps *apps;
	uint32_t max_packets;
	uint32_t n_protos;
	struct tide_app *map;        /* [n_protos] */
	void (*log)(int level, const char *module, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/* statistics (several workers: atomics) */
	uint64_t dpi, guessed, gave_up, not_in_table, no_l3, alloc_failed;
};

/* per worker: its own detection module */
struct ndpi_wctx {
	struct ndpi_detection_module_struct *mod;
};

/* what the session slot points to: nDPI's flow struct and the module that feeds it (so
 * classify_session, which gets no wctx, can still ask nDPI to give up) */
struct ndpi_sess {
	struct ndpi_wctx *w;
	struct ndpi_flow_struct flow;
};

/* Per-session slot (16 bytes). `s` is NULL until the first packet with an IP header, and
 * again once the verdict is taken (the flow struct is released as soon as it is no longer
 * needed, not at the session's end). */
struct ndpi_state {
	struct ndpi_sess *s;
	uint16_t master, app;        /* nDPI ids of the verdict */
	uint8_t pkts;                /* packets fed to nDPI */
	uint8_t conf;                /* ndpi_confidence_t of the verdict */
	uint8_t done;                /* verdict taken (DPI, or gave up) */
	uint8_t guessed;             /* the verdict is ndpi_detection_giveup()'s guess */
};
_Static_assert(sizeof(struct ndpi_state) == 16, "per-session slot budget");

/* nDPI's detection module set-up must not run concurrently (ndpi_api.h) */
static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *
opt(const char *opts, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	for (const char *p = opts; p && *p;) {
		size_t l = strcspn(p, ",");
		if (l > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(buf, len, "%.*s", (int)(l - kl - 1), p + kl + 1);
			return buf;
		}
		p = p[l] ? p + l + 1 : NULL;
	}
	return NULL;
}

static struct ndpi_detection_module_struct *
module_new(void)
{
	NDPI_PROTOCOL_BITMASK all;
	pthread_mutex_lock(&init_mu);
	struct ndpi_detection_module_struct *m = ndpi_init_detection_module(ndpi_no_prefs);
	if (m) {
		NDPI_BITMASK_SET_ALL(all);
		ndpi_set_protocol_detection_bitmask2(m, &all);
		ndpi_finalize_initialization(m);
	}
	pthread_mutex_unlock(&init_mu);
	return m;
}

static void
module_free(struct ndpi_detection_module_struct *m)
{
	pthread_mutex_lock(&init_mu);
	ndpi_exit_detection_module(m);
	pthread_mutex_unlock(&init_mu);
}

static void
map_name(const struct cls_apps *apps, struct tide_app *t)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].ndpi, t->name) == 0) {
			t->app_id = cls_apps_id(apps, aliases[i].app);
			if (t->app_id && aliases[i].sub)
				t->sub_id = cls_apps_sub_id(apps, t->app_id, aliases[i].sub);
			return;
		}
	t->app_id = cls_apps_id(apps, t->name);
}

static void
map_service(const struct cls_services *services, struct tide_app *t)
{
	for (size_t i = 0; i < sizeof(svc_aliases) / sizeof(svc_aliases[0]); i++)
		if (strcmp(svc_aliases[i].ndpi, t->name) == 0) {
			t->service_id = cls_services_id(services, svc_aliases[i].service);
			return;
		}
	t->service_id = cls_services_id(services, t->name);
}

static bool
is_loose(const char *name)
{
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++)
		if (strcmp(loose[i], name) == 0)
			return true;
	return false;
}

static void
ndpi_disable(void *ctx)
{
	struct ndpi_ctx *c = ctx;
	if (c)
		free(c->map);
	free(c);
}

static int
ndpi_enable(void **ctx, const struct cls_config *cfg)
{
	struct ndpi_ctx *c = calloc(1, sizeof(*c));
	char v[32];
	if (!c)
		return -ENOMEM;
	c->apps = cfg->apps;
	c->log = cfg->log;
	c->max_packets = NDPI_MAX_PACKETS_DEFAULT;
	for (const char *p = cfg->options; p && *p;) {
		size_t l = strcspn(p, ",");
		if (strncmp(p, "max_packets=", 12) != 0) {
			cfg->log(CLS_LOG_ERROR, "ndpi", "unknown option '%.*s' (known: max_packets=N)",
				(int)l, p);
			free(c);
			return -EINVAL;
		}
		p = p[l] ? p + l + 1 : NULL;
	}
	if (opt(cfg->options, "max_packets", v, sizeof(v))) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (!v[0] || *end || n < 1 || n > 255) {
			cfg->log(CLS_LOG_ERROR, "ndpi", "max_packets=%s: must be 1..255", v);
			free(c);
			return -EINVAL;
		}
		c->max_packets = (uint32_t)n;
	}
	struct ndpi_detection_module_struct *m = module_new();
	if (!m) {
		cfg->log(CLS_LOG_ERROR, "ndpi", "ndpi_init_detection_module failed");
		free(c);
		return -ENOMEM;
	}
	c->n_protos = ndpi_get_num_supported_protocols(m);
	c->map = calloc(c->n_protos ? c->n_protos : 1, sizeof(*c->map));
	if (!c->map) {
		module_free(m);
		free(c);
		return -ENOMEM;
	}
	uint32_t known = 0, services = 0;
	for (uint32_t i = 1; i < c->n_protos; i++) {
		const char *name = ndpi_get_proto_name(m, (u_int16_t)i);
		snprintf(c->map[i].name, sizeof(c->map[i].name), "%s", name ? name : "");
		map_name(c->apps, &c->map[i]);
		map_service(cfg->services, &c->map[i]);
		c->map[i].loose = is_loose(c->map[i].name);
		known += c->map[i].app_id != 0;
		services += c->map[i].service_id != 0;
	}
	module_free(m);
	cfg->log(CLS_LOG_INFO, "ndpi", "nDPI %s: %u protocols, %u in the application table, "
		"%u in the service table, max_packets=%u", ndpi_revision(), c->n_protos, known,
		services, c->max_packets);
	*ctx = c;
	return 0;
}

static void
ndpi_worker_free(void *ctx, void *wctx)
{
	struct ndpi_wctx *w = wctx;
	(void)ctx;
	if (!w)
		return;
	if (w->mod)
		module_free(w->mod);
	free(w);
}

static void *
ndpi_worker_init(void *ctx)
{
	struct ndpi_ctx *c = ctx;
	struct ndpi_wctx *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->mod = module_new();
	if (!w->mod) {
		c->log(CLS_LOG_ERROR, "ndpi", "ndpi_init_detection_module failed");
		free(w);
		return NULL;
	}
	return w;
}

static void
release(struct ndpi_state *st)
{
	if (st->s) {
		ndpi_free_flow_data(&st->s->flow);
		free(st->s);
		st->s = NULL;
	}
}

/* Take nDPI's give-up guess (port, address) and release the flow. */
static void
give_up(struct ndpi_ctx *c, struct ndpi_state *st)
{
	if (st->s) {
		u_int8_t guessed = 0;
		ndpi_protocol r = ndpi_detection_giveup(st->s->w->mod, &st->s->flow, 1, &guessed);
		if (r.master_protocol || r.app_protocol) {
			st->master = r.master_protocol;
			st->app = r.app_protocol;
			st->conf = (uint8_t)st->s->flow.confidence;
			st->guessed = guessed || st->conf < NDPI_CONFIDENCE_DPI_CACHE;
		}
		release(st);
	}
	if (!st->done)
		__atomic_fetch_add(st->master || st->app ? &c->guessed : &c->gave_up, 1,
			__ATOMIC_RELAXED);
	st->done = 1;
}

static void
ndpi_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	struct ndpi_ctx *c = ctx;
	struct ndpi_wctx *w = wctx;
	struct ndpi_state *st = state;
	(void)s;
	if (st->done)
		return;
	if (!p->l3 || p->l3_len < 20) {
		/* nothing to feed nDPI (a host that does not fill cls_packet.l3): still counted
		 * towards the bound, so the session never waits for this plugin forever */
		__atomic_fetch_add(&c->no_l3, 1, __ATOMIC_RELAXED);
		if (++st->pkts >= c->max_packets)
			give_up(c, st);
		return;
	}
	if (!st->s) {
		st->s = calloc(1, sizeof(*st->s));
		if (!st->s) {
			__atomic_fetch_add(&c->alloc_failed, 1, __ATOMIC_RELAXED);
			st->done = 1;
			return;
		}
		st->s->w = w;
	}
	uint32_t len = p->l3_len > 65535 ? 65535 : p->l3_len;
	ndpi_protocol r = ndpi_detection_process_packet(w->mod, &st->s->flow, p->l3,
		(unsigned short)len, p->ts_ns / 1000000u);
	st->pkts++;
	ndpi_confidence_t conf = st->s->flow.confidence;
	if ((r.master_protocol || r.app_protocol) && conf >= NDPI_CONFIDENCE_DPI_CACHE) {
		st->master = r.master_protocol;
		st->app = r.app_protocol;
		st->conf = (uint8_t)conf;
		st->done = 1;
		__atomic_fetch_add(&c->dpi, 1, __ATOMIC_RELAXED);
		release(st);
		return;
	}
	if (st->pkts >= c->max_packets)
		give_up(c, st);
}

static bool
ndpi_ready(void *ctx, void *state, const struct cls_session *s)
{
	(void)ctx;
	(void)s;
	return ((const struct ndpi_state *)state)->done;
}

static const struct tide_app *
lookup(const struct ndpi_ctx *c, uint16_t id)
{
	return id && id < c->n_protos ? &c->map[id] : NULL;
}

static void
ndpi_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	struct ndpi_ctx *c = ctx;
	struct ndpi_state *st = state;
	(void)s;
	if (!st->done && st->s) /* the session ends before the bound: nDPI's best guess now */
		give_up(c, st);
	/* the protocol is the master when there is one (TLS of TLS.Google), else the app */
	const struct tide_app *proto = lookup(c, st->master ? st->master : st->app);
	const struct tide_app *service = st->master && st->app != st->master ?
		lookup(c, st->app) : NULL;
	if (proto && !proto->app_id && service && service->app_id) {
		/* the protocol is unknown to tide but the "app" is a protocol tide has
		 * (e.g. RTP carried by a master tide does not list) */
		proto = service;
		service = NULL;
	}
	if (!proto || !proto->app_id) {
		if (proto)
			__atomic_fetch_add(&c->not_in_table, 1, __ATOMIC_RELAXED);
		out->flags = CLS_RES_GAVE_UP;
		return;
	}
	out->app_id = proto->app_id;
	out->sub_id = proto->sub_id;
	out->flags = CLS_RES_FINAL;
	if (st->guessed || st->conf < NDPI_CONFIDENCE_DPI_CACHE) {
		out->evidence = CLS_EV_PORT;
		out->confidence = st->conf == NDPI_CONFIDENCE_MATCH_BY_IP ? CONF_BY_IP : CONF_BY_PORT;
	} else if (proto->loose) {
		out->evidence = CLS_EV_SHAPE;
		out->confidence = CONF_LOOSE;
	} else {
		out->evidence = CLS_EV_DPI;
		out->confidence = st->conf == NDPI_CONFIDENCE_DPI ? CONF_DPI : CONF_DPI_CACHE;
	}
	/* the service nDPI named (Google of TLS.Google), or the protocol's own when it is one */
	out->service_id = service && service->service_id ? service->service_id :
		proto->service_id;
}

static int
ndpi_dump(void *ctx, FILE *out)
{
	const struct ndpi_ctx *c = ctx;
	fprintf(out, "# ndpi: %llu by DPI, %llu guessed by port/address, %llu gave up, "
		     "%llu not in the application table; %llu packets without an IP header, "
		     "%llu flow allocations failed\n",
		(unsigned long long)c->dpi, (unsigned long long)c->guessed,
		(unsigned long long)c->gave_up, (unsigned long long)c->not_in_table,
		(unsigned long long)c->no_l3, (unsigned long long)c->alloc_failed);
	return 0;
}

static void
ndpi_session_free(void *ctx, void *wctx, void *state)
{
	(void)ctx;
	(void)wctx;
	release(state);
}

static const struct cls_plugin ndpi_plugin = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DPI,
	.name = "ndpi",
	.version = "1.0",
	.state_size = sizeof(struct ndpi_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = ndpi_enable,
	.disable = ndpi_disable,
	.worker_init = ndpi_worker_init,
	.worker_free = ndpi_worker_free,
	.packet = ndpi_packet,
	.is_session_classifiable = ndpi_ready,
	.classify_session = ndpi_classify,
	.session_free = ndpi_session_free,
	.dump_statistics = ndpi_dump,
};

/* the one symbol a plugin exports */
const struct cls_plugin *tide_classifier(void);
const struct cls_plugin *
tide_classifier(void)
{
	return &ndpi_plugin;
}
