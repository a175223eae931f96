/* cls_plugin.h — the classifier plugin ABI, modelled on TIE's `struct classifier`.
 *
 * A plugin is one `const struct cls_plugin` (data, not code, describes it) plus its functions.
 * Built-in plugins are linked into the engine; others are shared objects in a plugin directory
 * exporting `const struct cls_plugin *tide_classifier(void)`. The engine refuses a plugin whose
 * abi_version differs from CLS_ABI_VERSION, naming the plugin and both versions.
 *
 * Life cycle: enable(config) → [load_signatures(path)] → per worker: worker_init → per session:
 * packet()… is_session_classifiable()? → classify_session() → session_free(); training runs
 * session_sign() on labelled sessions and train(model path) at the end; dump_statistics() on
 * exit. Per-session state lives in an opaque slot of `state_size` bytes that the engine
 * allocates next to the session (zeroed at session start), so adding a classifier never adds
 * fields to the shared session struct. `ctx` is the plugin's global context (read-only once
 * enabled, shared by workers); `wctx` is per worker (e.g. Hyperscan scratch) — no locks. */
#ifndef CLS_PLUGIN_H
#define CLS_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cls_session.h"

#define CLS_ABI_VERSION 5 /* 2: cls_config.log; 3: evidence; 4: services; 5: answer_early */

/* result flags */
#define CLS_RES_FINAL 0x01   /* the plugin will not change its mind for this session */
#define CLS_RES_GAVE_UP 0x02 /* looked, gave up (bound reached): "don't know" */

#define CLS_LABEL_MAX 128

/* What a verdict rests on, weakest first. The combiner ranks answers by evidence before
 * confidence, so a protocol parsed from its own messages beats a byte-shape match, and any
 * payload evidence beats a port guess, whatever numbers each plugin puts on its confidence.
 * A result that leaves evidence at CLS_EV_DEFAULT gets its plugin's declared `evidence`. */
enum cls_evidence {
	CLS_EV_DEFAULT = 0,   /* "the plugin's declared evidence" */
	CLS_EV_PORT,          /* well-known port or address only */
	CLS_EV_STATS,         /* packet sizes and timings (a trained model) */
	CLS_EV_SHAPE,         /* a loose byte pattern: a few fixed bytes, a length field */
	CLS_EV_SIGNATURE,     /* a distinctive payload signature (magic, protocol keyword) */
	CLS_EV_DPI,           /* a DPI engine's verdict (nDPI): parsing with host knowledge */
	CLS_EV_DISSECTOR,     /* the protocol's own messages parsed and validated */
	CLS_EV_EXPECTED,      /* announced by a control session (FTP PASV, TFTP request) */
	CLS_EV_MAX
};

/* A classification: TIE's class_output plus a sub-label string (SNI, DNS name, HTTP host) that
 * goes into the flow record. app_id 0 = unknown. service_id: who is behind the session
 * (config/services.txt, cls_services_id() of cls_config.services), when the plugin knows it
 * (a DPI engine's "TLS.Google"); 0 lets the engine derive it from the sub-label. */
struct cls_result {
	uint16_t app_id;
	uint16_t sub_id;
	uint8_t confidence;             /* 0–100, 100 = sure */
	uint8_t evidence;               /* enum cls_evidence; 0: the plugin's declared one */
	uint16_t service_id;            /* 0: none (the engine matches the sub-label) */
	uint32_t flags;                 /* CLS_RES_* */
	char label[CLS_LABEL_MAX];      /* "" when none */
};

/* Expected sessions: a control protocol (FTP's PASV/PORT, TFTP's request) tells the engine the
 * endpoint a future session will use, and that session is decided at its first packet — it
 * carries no signature of its own. One table serves every worker (a data
 * connection hashes to any worker), bounded (256, oldest overwritten); entries expire after
 * two minutes. */
struct cls_expect;
struct cls_expectation {
	uint8_t addr[16];             /* an endpoint of the future session (network order) */
	uint8_t peer[16];             /* its other end if known; all zero: any */
	uint16_t port;                /* addr's port */
	uint8_t proto;                /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;               /* 4 or 6 */
	uint16_t app_id, sub_id;
	uint8_t confidence;
};
/* Announce one (from packet(), with p->expect; NULL-safe). The engine records which plugin
 * announced it, for the flow record's classifier column. */
void cls_expect_add(struct cls_expect *x, const struct cls_expectation *e, uint64_t now_ns);

/* A ground-truth label for training (from the pre-classifier). */
struct cls_truth {
	uint16_t app_id;
	uint16_t sub_id;
};

/* What a plugin needs from the session builder (the engine turns on the features). */
#define CLS_NEED_PAYLOAD 0x01     /* cls_packet.payload on every packet */
#define CLS_NEED_FIRST_N 0x02     /* feat sizes/dirs/iat of the first packets */
#define CLS_NEED_FIRST_BYTES 0x04 /* feat first_bytes */
#define CLS_NEED_STREAM 0x08      /* feat stream */

/* Settings handed to enable(): the engine's config directory (for the plugin's own files), the
 * application and service table lookups, and plugin-specific key=value options from the
 * config. The tables are the engine's, alive until disable(); plugins query them with the
 * engine's exported functions (cls_apps_id(), cls_services_id(): tide-dataplane exports its
 * symbols to the shared objects it loads). */
struct cls_apps;
struct cls_services;
struct cls_config {
	const char *config_dir;
	const struct cls_apps *apps;
	const struct cls_services *services; /* config/services.txt; NULL when there is none */
	const char *options;          /* "key=value,key=value" or "" */
	uint32_t first_n;             /* features collected for the first N packets */
	const char *model_dir;        /* where trained models live (train() writes there) */
	/* The host's logger (tide_log.h): a plugin reports bad options, files it cannot read and
	 * what it trained through it, never on stdout or stderr. Never NULL when the engine calls
	 * enable(); level is CLS_LOG_*, module the plugin's name. */
	void (*log)(int level, const char *module, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
};
enum { CLS_LOG_DEBUG = 0, CLS_LOG_INFO, CLS_LOG_WARN, CLS_LOG_ERROR };

struct cls_plugin {
	uint32_t abi_version;         /* CLS_ABI_VERSION */
	const char *name;
	const char *version;
	uint32_t state_size;          /* per-session opaque bytes (0: none) */
	uint32_t needs;               /* CLS_NEED_* */
	uint8_t evidence;             /* enum cls_evidence of its usual verdict, and the strongest
	                               * it gives: a result may name a weaker one, never a
	                               * stronger (cls_session_settled relies on it) */

	int (*enable)(void **ctx, const struct cls_config *cfg);          /* 0 or -errno */
	void (*disable)(void *ctx);
	int (*load_signatures)(void *ctx, const char *path);              /* optional */
	int (*train)(void *ctx, const char *model_path);                  /* optional */
	void *(*worker_init)(void *ctx);                                  /* optional */
	void (*worker_free)(void *ctx, void *wctx);                       /* optional */

	/* per packet while the session is undecided (optional) */
	void (*packet)(void *ctx, void *wctx, void *state, const struct cls_session *s,
		const struct cls_packet *p);
	bool (*is_session_classifiable)(void *ctx, void *state, const struct cls_session *s);
	void (*classify_session)(void *ctx, void *state, const struct cls_session *s,
		struct cls_result *out);
	/* training: remember what train() needs from a labelled session (optional) */
	void (*session_sign)(void *ctx, void *state, const struct cls_session *s,
		const struct cls_truth *truth);
	void (*session_free)(void *ctx, void *wctx, void *state);         /* optional */
	int (*dump_statistics)(void *ctx, FILE *out);                     /* optional */
	/* While the session is not classifiable yet: an answer the plugin will not change, for a
	 * caller that cannot wait for every classifier (cls_session_settled: a job that keeps
	 * sessions by application). True with *out filled, false when it has none. Must not
	 * change the session's state (optional; without it the plugin is waited for). */
	bool (*answer_early)(void *ctx, void *state, const struct cls_session *s,
		struct cls_result *out);
};

/* Entry point a shared-object plugin exports. */
typedef const struct cls_plugin *(*cls_plugin_entry_fn)(void);
#define CLS_PLUGIN_ENTRY "tide_classifier"

#endif
