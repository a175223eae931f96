/* cls_engine.h — TIE's plugin manager and decision combiner.
 *
 * The engine loads the enabled classifiers (built-ins and shared objects, in the order of the
 * enabled-plugins file), lays their per-session state slots out after its own small header,
 * feeds them packets and asks them, TIE's rule, whether they are ready; once every enabled
 * classifier is ready (or the session ends) it combines their answers by the chosen policy into
 * one decision: {app, sub, confidence, deciding classifier, sub-label} — or an explicit
 * "unknown" with a reason.
 *
 * enabled-plugins file (config/enabled_plugins), one plugin per line, '#' comments:
 *   <name> [optional] [weight=W] [options...]   a built-in, or <plugin_dir>/<name>.so
 * The order is the priority order. `optional` marks a shared-object plugin that may not be
 * installed (nDPI when libndpi was missing at build time): without its .so the line is skipped
 * with one INFO log line; a .so that is there but broken (ABI, enable) is still an error.
 * plugin_dir NULL: the plugins next to the running program, as built
 * (<exe dir>/../classifiers/plugins) or installed (<exe dir>/../lib/tide/plugins).
 *
 * The combiner ranks by evidence before policy. Each answer (app != 0, confidence > 0) has an
 * evidence class: its result's `evidence`, or its plugin's declared one (enum cls_evidence:
 * port < stats < shape < signature < DPI < dissector < expected). The winner comes from the
 * highest class holding an answer with confidence >= min_confidence; within that class the
 * policy decides (priority: first in enabled order; vote: weighted vote of that class's
 * answers). So a DPI verdict beats a port guess, a dissector that parsed the protocol beats
 * nDPI and a signature, and policies and weights only arbitrate between equals. A CLS_EV_SHAPE
 * answer counts only if another classifier names the same application or its confidence is
 * at least CLS_SHAPE_ALONE_MIN; otherwise it is ignored (a lone shape alone gives
 * "answers below the confidence threshold"). The sub-label and sub id still come from any
 * classifier that agrees on the application. Expected sessions (CLS_EV_EXPECTED) are decided
 * at their first packet, before any other answer.
 *
 * The service (config/services.txt, cls_services.h; a missing file means no services, logged
 * once) of an identified session: the service_id of the winning answer, else of the first
 * answer (enabled order) that agrees on the application and sets one, else the service whose
 * domain suffix matches the session's sub-label (SNI, HTTP Host, DNS name). An unknown session
 * has none. */
#ifndef CLS_ENGINE_H
#define CLS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cls_apps.h"
#include "cls_plugin.h"
#include "cls_services.h"

#define CLS_MAX_PLUGINS 16
/* a CLS_EV_SHAPE answer nobody agrees with decides only at this confidence or above */
#define CLS_SHAPE_ALONE_MIN 90

enum cls_policy {
	CLS_POLICY_PRIORITY = 0, /* within the top evidence class: the first confident answer */
	CLS_POLICY_VOTE = 1,     /* within it: sum of confidence x weight per app; the best wins */
};

struct cls_engine_params {
	const char *config_dir;      /* tide_apps.txt, services.txt, enabled_plugins, plugins' files */
	const char *enabled_path;    /* NULL: <config_dir>/enabled_plugins */
	const char *plugin_dir;      /* shared-object plugins; NULL: next to the program (above) */
	const char *model_dir;       /* where train() writes / statistical models load; NULL: config_dir */
	enum cls_policy policy;
	uint8_t min_confidence;      /* a decision below this is "unknown (low confidence)" */
	uint32_t first_n;            /* first-N packet features (0: plugin needs decide, default 8) */
	uint32_t label_size;         /* bytes kept per session for the sub-label (default 128) */
	bool training;               /* call session_sign() on labelled sessions */
};

/* A final decision, as it goes into the flow record. */
struct cls_decision {
	uint16_t app_id;
	uint16_t sub_id;
	uint8_t confidence;
	int8_t classifier;           /* index of the deciding plugin, -1 for none */
	uint8_t reason;              /* enum cls_unknown_reason when app_id == 0 */
	uint16_t service_id;         /* config/services.txt id; 0: none */
};

#define CLS_UNKNOWN_LIST(_)                                             \
	_(NONE, "")                                                     \
	_(NO_ANSWER, "no classifier recognised it")                     \
	_(LOW_CONFIDENCE, "answers below the confidence threshold")     \
	_(TIE, "classifiers disagreed with equal weight")               \
	_(NO_PAYLOAD, "ended before any classifier was ready")

enum cls_unknown_reason {
#define _(sym, text) CLS_UNKNOWN_##sym,
	CLS_UNKNOWN_LIST(_)
#undef _
	CLS_UNKNOWN_MAX
};
extern const char *const cls_unknown_reasons[CLS_UNKNOWN_MAX];

struct cls_engine;
struct cls_worker;

/* NULL on error with a message in err (unknown plugin, ABI mismatch, bad config line, a plugin's
 * enable() or load_signatures() failing — each names the plugin and file). */
/* The logger handed to plugins as cls_config.log (tide_log underneath); tests that enable a
 * plugin by hand pass it too. */
void cls_host_log(int level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct cls_engine *cls_engine_create(const struct cls_engine_params *p, char *err, size_t errlen);
void cls_engine_destroy(struct cls_engine *e);

const struct cls_apps *cls_engine_apps(const struct cls_engine *e);
/* the service table; NULL when config/services.txt is absent (every lookup then gives 0 / "") */
const struct cls_services *cls_engine_services(const struct cls_engine *e);
unsigned int cls_engine_n_plugins(const struct cls_engine *e);
const char *cls_engine_plugin_name(const struct cls_engine *e, int idx); /* "none" for -1 */
uint32_t cls_engine_needs(const struct cls_engine *e);     /* union of CLS_NEED_* */
uint32_t cls_engine_first_n(const struct cls_engine *e);
/* bytes of per-session state the engine needs (header + label + every plugin's slot) */
uint32_t cls_engine_state_size(const struct cls_engine *e);

/* Per-worker context (plugins' worker_init). Not thread-safe: one per worker thread. */
struct cls_worker *cls_worker_create(struct cls_engine *e);
void cls_worker_destroy(struct cls_worker *w);

/* Per session. `state` is cls_engine_state_size() bytes owned by the caller. begin() zeroes it. */
void cls_session_begin(struct cls_worker *w, void *state);
/* Feed one packet. Returns true when the session has just been decided (*d filled); false while
 * undecided or when it was decided before (use cls_session_decision()). */
bool cls_session_packet(struct cls_worker *w, void *state, const struct cls_session *s,
	const struct cls_packet *p, struct cls_decision *d);
/* What the decision will be when waiting cannot change the application, before every
 * classifier is ready: the ready classifiers (and those that already name an application for
 * good, CLS_RES_FINAL) give a confident answer whose evidence class is above every class the
 * classifiers still reading could give, or of the same class but first in priority order (a
 * dissector has parsed QUIC; the statistical classifier, still counting packets, could only
 * offer statistics). Then *d is that decision and true is returned; also, with its decision,
 * for a session decided before. The session is not changed: it is decided by TIE's rule as
 * ever, and its flow record is the same (its application the same by the rule above). For
 * callers that cannot wait for TIE's rule (a job that keeps sessions by application,
 * dataplane/dp_select.h); each call asks every classifier, so call it only while it matters. */
bool cls_session_settled(struct cls_worker *w, void *state, const struct cls_session *s,
	struct cls_decision *d);
/* The session ends undecided: decide with what the classifiers have (TIE's final dump). */
void cls_session_finish(struct cls_worker *w, void *state, const struct cls_session *s,
	struct cls_decision *d);
bool cls_session_decided(const void *state);
void cls_session_decision(const void *state, struct cls_decision *d);
/* The sub-label kept with the decision ("" if none). */
const char *cls_session_label(const struct cls_engine *e, const void *state);
/* The session's shared label slot (struct cls_session.label) and its size. */
char *cls_session_label_slot(const struct cls_engine *e, void *state);
uint32_t cls_engine_label_size(const struct cls_engine *e);
/* Training: hand the ground truth to every plugin's session_sign(). */
void cls_session_sign(struct cls_worker *w, void *state, const struct cls_session *s,
	const struct cls_truth *truth);
/* Release plugin resources (Hyperscan streams…). Call once per begun session. */
void cls_session_end(struct cls_worker *w, void *state);

/* After training input: every plugin's train(<model_dir>/<name>.model). 0 or -1 + err. */
int cls_engine_train(struct cls_engine *e, char *err, size_t errlen);
/* Every plugin's dump_statistics, plus the combiner's own counts. */
void cls_engine_dump_statistics(struct cls_engine *e, FILE *out);

#endif
