/* cls_engine.c — plugin manager and decision combiner (see cls_engine.h).
 *
 * Per-session state layout (one block the caller owns, cls_engine_state_size() bytes):
 *   struct sess_hdr | label[label_size] | plugin 0 slot | plugin 1 slot | …   (8-byte aligned)
 * The header records the decision once taken, so nothing is re-decided and plugins stop being
 * called for that session (their resources are released at the decision, not at the end). */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_builtin.h"
#include "cls_engine.h"
#include "tide_log.h"

const char *const cls_unknown_reasons[CLS_UNKNOWN_MAX] = {
#define _(sym, text) text,
	CLS_UNKNOWN_LIST(_)
#undef _
};

struct sess_hdr {
	uint8_t decided;
	uint8_t freed;        /* plugins' session_free already called */
	uint8_t confidence;
	int8_t classifier;
	uint16_t app_id;
	uint16_t sub_id;
	uint8_t reason;
	uint8_t pad0;
	uint16_t service_id;
	uint8_t pad[4];
};
_Static_assert(sizeof(struct sess_hdr) == 16, "session header budget");

struct plugin_slot {
	const struct cls_plugin *ops;
	void *ctx;
	void *dl;             /* dlopen handle for shared objects */
	uint32_t offset;      /* of its state in the session block */
	uint32_t weight;
	uint8_t evidence;     /* its declared enum cls_evidence (CLS_EV_SIGNATURE if it declares none) */
	bool optional;        /* `optional` in the enabled file: skipped when its .so is absent */
	char name[32];
	char options[256];
	/* combiner statistics: decisions this plugin won */
	uint64_t won;
};

/* Expected sessions, shared by the workers: the symmetric hash sends an FTP data connection to
 * any worker, not the control session's. A small ring, oldest overwritten, entries live 2
 * minutes; the mutex is taken only to announce (rare) and, at a session's first packet, when the
 * ring holds something (`live`, read without the lock first). */
#define EXPECT_SLOTS 256
#define EXPECT_TTL_NS (120ull * 1000000000ull)
struct expect_table {
	pthread_mutex_t mu;
	struct {
		struct cls_expectation x;
		uint64_t until;
		int8_t plugin;
		uint8_t used;
	} slot[EXPECT_SLOTS];
	unsigned int next;
	_Atomic uint32_t live;
};

/* what plugins get in cls_packet.expect: the shared table and who is announcing */
struct cls_expect {
	struct expect_table *t;
	int8_t current_plugin;
};

struct cls_engine {
	struct cls_engine_params p;
	struct cls_apps *apps;
	struct cls_services *services; /* NULL: no config/services.txt */
	unsigned int n;
	struct plugin_slot pl[CLS_MAX_PLUGINS];
	uint32_t state_size;
	uint32_t needs;
	char config_dir[512];
	char model_dir[512];
	char plugin_dir[512];
	uint64_t decided, unknown[CLS_UNKNOWN_MAX];
	struct expect_table expect;   /* expected sessions, shared by workers */
};

struct cls_worker {
	struct cls_engine *e;
	struct cls_expect expect;     /* handle on e->expect */
	/* combiner counts, kept per worker (no sharing) and added to the engine's at destroy */
	uint64_t won[CLS_MAX_PLUGINS];
	uint64_t decided, unknown[CLS_UNKNOWN_MAX];
	void *wctx[CLS_MAX_PLUGINS];
	struct cls_result res[CLS_MAX_PLUGINS];
};

_Static_assert((int)CLS_LOG_DEBUG == (int)TIDE_LOG_DEBUG &&
	(int)CLS_LOG_ERROR == (int)TIDE_LOG_ERROR,
	"the plugin ABI's log levels are tide_log's");

void
cls_host_log(int level, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tide_vlog((enum tide_log_level)level, module, fmt, ap);
	va_end(ap);
}

static inline struct sess_hdr *
hdr(void *state)
{
	return state;
}

static inline char *
label_of(const struct cls_engine *e, void *state)
{
	(void)e;
	return (char *)state + sizeof(struct sess_hdr);
}

static inline void *
slot_of(const struct plugin_slot *ps, void *state)
{
	return (char *)state + ps->offset;
}

static int
load_plugin(struct cls_engine *e, struct plugin_slot *ps, char *err, size_t errlen)
{
	const struct cls_plugin *ops = cls_builtin_find(ps->name);
	char path[1024];
	if (!ops && e->p.plugin_dir)
		snprintf(path, sizeof(path), "%s/%s.so", e->p.plugin_dir, ps->name);
	if (!ops && e->p.plugin_dir && access(path, F_OK) == 0) {
		ps->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!ps->dl) {
			snprintf(err, errlen, "plugin '%s': %s", ps->name, dlerror());
			return -1;
		}
		cls_plugin_entry_fn fn = (cls_plugin_entry_fn)dlsym(ps->dl, CLS_PLUGIN_ENTRY);
		if (!fn) {
			snprintf(err, errlen, "plugin '%s' (%s): no %s() entry point", ps->name, path,
				CLS_PLUGIN_ENTRY);
			return -1;
		}
		ops = fn();
	}
	if (!ops && ps->optional) {
		tide_log(TIDE_LOG_INFO, "classifiers", "optional classifier '%s' not installed "
			"(no %s.so in %s): skipped", ps->name, ps->name,
			e->p.plugin_dir ? e->p.plugin_dir : "any plugin directory");
		return 1;
	}
	if (!ops) {
		size_t off = (size_t)snprintf(err, errlen, "unknown classifier '%s' (built-ins:",
			ps->name);
		for (const char *const *n = cls_builtin_names(); *n && off < errlen; n++)
			off += (size_t)snprintf(err + off, errlen - off, " %s", *n);
		if (off < errlen)
			snprintf(err + off, errlen - off, "%s)",
				e->p.plugin_dir ? "; no .so of that name in the plugin directory" : "");
		return -1;
	}
	if (ops->abi_version != CLS_ABI_VERSION) {
		snprintf(err, errlen, "plugin '%s' was built for classifier ABI %u, tide needs %u: "
				      "rebuild it against this cls_plugin.h",
			ps->name, ops->abi_version, CLS_ABI_VERSION);
		return -1;
	}
	if (!ops->is_session_classifiable || !ops->classify_session) {
		snprintf(err, errlen, "plugin '%s' lacks is_session_classifiable/classify_session",
			ps->name);
		return -1;
	}
	ps->ops = ops;
	ps->evidence = ops->evidence > CLS_EV_DEFAULT && ops->evidence < CLS_EV_MAX ?
		ops->evidence : CLS_EV_SIGNATURE;
	return 0;
}

/* "name weight=2 a=b c=d" */
static int
parse_enabled(struct cls_engine *e, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[512];
	unsigned int lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		if (!tok)
			continue;
		if (e->n == CLS_MAX_PLUGINS) {
			snprintf(err, errlen, "%s:%u: more than %d classifiers", path, lineno,
				CLS_MAX_PLUGINS);
			fclose(f);
			return -1;
		}
		struct plugin_slot *ps = &e->pl[e->n];
		memset(ps, 0, sizeof(*ps));
		ps->weight = 1;
		if (strlen(tok) >= sizeof(ps->name)) {
			snprintf(err, errlen, "%s:%u: classifier name too long", path, lineno);
			fclose(f);
			return -1;
		}
		for (char *c = tok; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-') {
				snprintf(err, errlen, "%s:%u: bad classifier name '%s'", path, lineno,
					tok);
				fclose(f);
				return -1;
			}
		snprintf(ps->name, sizeof(ps->name), "%s", tok);
		for (unsigned int k = 0; k < e->n; k++)
			if (strcmp(e->pl[k].name, ps->name) == 0) {
				snprintf(err, errlen, "%s:%u: '%s' enabled twice", path, lineno, tok);
				fclose(f);
				return -1;
			}
		size_t off = 0;
		while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			if (strncmp(tok, "weight=", 7) == 0) {
				char *end;
				unsigned long w = strtoul(tok + 7, &end, 10);
				if (*end || w == 0 || w > 100) {
					snprintf(err, errlen, "%s:%u: weight must be 1..100", path,
						lineno);
					fclose(f);
					return -1;
				}
				ps->weight = (uint32_t)w;
			} else if (strcmp(tok, "optional") == 0) {
				ps->optional = true;
			} else if (!strchr(tok, '=')) {
				snprintf(err, errlen, "%s:%u: option '%s' is not key=value", path,
					lineno, tok);
				fclose(f);
				return -1;
			} else {
				off += (size_t)snprintf(ps->options + off, sizeof(ps->options) - off,
					"%s%s", off ? "," : "", tok);
				if (off >= sizeof(ps->options)) {
					snprintf(err, errlen, "%s:%u: options too long", path, lineno);
					fclose(f);
					return -1;
				}
			}
		}
		e->n++;
	}
	fclose(f);
	if (e->n == 0) {
		snprintf(err, errlen, "%s: no classifier enabled", path);
		return -1;
	}
	return 0;
}

/* Without --plugin-dir: the plugins next to the program, as built (<build>/dataplane/prog →
 * <build>/classifiers/plugins) or as installed (<prefix>/bin/prog →
 * <prefix>/lib/tide/plugins); the first that exists. NULL when neither does. */
static const char *
default_plugin_dir(char *buf, size_t len)
{
	static const char *const rel[] = {"../classifiers/plugins", "../lib/tide/plugins"};
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if ((size_t)snprintf(buf, len, "%s/%s", exe, rel[i]) >= len)
			continue;
		if (access(buf, R_OK | X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* value of key in "k=v,k2=v2" into buf; NULL if absent */
static const char *
option(const char *opts, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	for (const char *p = opts; p && *p;) {
		const char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		if (l > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(buf, len, "%.*s", (int)(l - kl - 1), p + kl + 1);
			return buf;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

struct cls_engine *
cls_engine_create(const struct cls_engine_params *p, char *err, size_t errlen)
{
	struct cls_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->p = *p;
	pthread_mutex_init(&e->expect.mu, NULL);
	if (!e->p.label_size || e->p.label_size > CLS_LABEL_MAX)
		e->p.label_size = CLS_LABEL_MAX;
	if (!e->p.first_n)
		e->p.first_n = 8;
	if (e->p.first_n > CLS_FIRST_N_MAX)
		e->p.first_n = CLS_FIRST_N_MAX;
	snprintf(e->config_dir, sizeof(e->config_dir), "%s", p->config_dir ? p->config_dir : "config");
	snprintf(e->model_dir, sizeof(e->model_dir), "%s", p->model_dir ? p->model_dir : e->config_dir);
	e->p.config_dir = e->config_dir;
	e->p.model_dir = e->model_dir;
	if (p->plugin_dir)
		snprintf(e->plugin_dir, sizeof(e->plugin_dir), "%s", p->plugin_dir);
	e->p.plugin_dir = p->plugin_dir ? e->plugin_dir :
		default_plugin_dir(e->plugin_dir, sizeof(e->plugin_dir));

	char path[1024];
	snprintf(path, sizeof(path), "%s/tide_apps.txt", e->config_dir);
	e->apps = cls_apps_load(path, err, errlen);
	if (!e->apps)
		goto fail;
	snprintf(path, sizeof(path), "%s/services.txt", e->config_dir);
	e->services = cls_services_load(path, err, errlen);
	if (!e->services && errno != ENOENT)
		goto fail;
	if (!e->services)
		tide_log(TIDE_LOG_INFO, "classifiers", "no service table (%s): flow records name "
			"no services", path);
	if (p->enabled_path)
		snprintf(path, sizeof(path), "%s", p->enabled_path);
	else
		snprintf(path, sizeof(path), "%s/enabled_plugins", e->config_dir);
	if (parse_enabled(e, path, err, errlen) != 0)
		goto fail;

	uint32_t off = (uint32_t)sizeof(struct sess_hdr) + ((e->p.label_size + 7u) & ~7u);
	for (unsigned int i = 0; i < e->n; i++) {
		struct plugin_slot *ps = &e->pl[i];
		int lrc = load_plugin(e, ps, err, errlen);
		if (lrc < 0)
			goto fail;
		if (lrc > 0) { /* an optional plugin that is not installed: drop its line */
			memmove(ps, ps + 1, (e->n - i - 1) * sizeof(*ps));
			e->n--;
			i--;
			continue;
		}
		struct cls_config cfg = {
			.config_dir = e->config_dir,
			.apps = e->apps,
			.services = e->services,
			.options = ps->options,
			.first_n = e->p.first_n,
			.model_dir = e->model_dir,
			.log = cls_host_log,
		};
		int rc = ps->ops->enable(&ps->ctx, &cfg);
		if (rc != 0) {
			snprintf(err, errlen, "classifier '%s': enable failed: %s", ps->name,
				strerror(rc < 0 ? -rc : rc));
			goto fail;
		}
		if (ps->ops->load_signatures) {
			char file[512];
			const char *f = option(ps->options, "file", file, sizeof(file));
			rc = ps->ops->load_signatures(ps->ctx, f);
			if (rc != 0) {
				snprintf(err, errlen, "classifier '%s': cannot load signatures%s%s: %s",
					ps->name, f ? " from " : "", f ? f : "",
					strerror(rc < 0 ? -rc : rc));
				goto fail;
			}
		}
		ps->offset = off;
		off += (ps->ops->state_size + 7u) & ~7u;
		e->needs |= ps->ops->needs;
	}
	if (e->n == 0) {
		snprintf(err, errlen, "%s: no classifier enabled (every one optional and absent)",
			path);
		goto fail;
	}
	e->state_size = off;
	return e;
fail:
	cls_engine_destroy(e);
	return NULL;
}

void
cls_engine_destroy(struct cls_engine *e)
{
	if (!e)
		return;
	for (unsigned int i = 0; i < e->n; i++) {
		struct plugin_slot *ps = &e->pl[i];
		if (ps->ops && ps->ctx && ps->ops->disable)
			ps->ops->disable(ps->ctx);
		if (ps->dl)
			dlclose(ps->dl);
	}
	cls_apps_free(e->apps);
	cls_services_free(e->services);
	pthread_mutex_destroy(&e->expect.mu);
	free(e);
}

const struct cls_apps *
cls_engine_apps(const struct cls_engine *e)
{
	return e->apps;
}

const struct cls_services *
cls_engine_services(const struct cls_engine *e)
{
	return e->services;
}

unsigned int
cls_engine_n_plugins(const struct cls_engine *e)
{
	return e->n;
}

const char *
cls_engine_plugin_name(const struct cls_engine *e, int idx)
{
	return idx >= 0 && (unsigned int)idx < e->n ? e->pl[idx].name : "none";
}

uint32_t
cls_engine_needs(const struct cls_engine *e)
{
	return e->needs;
}

uint32_t
cls_engine_first_n(const struct cls_engine *e)
{
	return e->p.first_n;
}

uint32_t
cls_engine_state_size(const struct cls_engine *e)
{
	return e->state_size;
}

struct cls_worker *
cls_worker_create(struct cls_engine *e)
{
	struct cls_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->e = e;
	w->expect.t = &e->expect;
	for (unsigned int i = 0; i < e->n; i++)
		if (e->pl[i].ops->worker_init) {
			w->wctx[i] = e->pl[i].ops->worker_init(e->pl[i].ctx);
			if (!w->wctx[i]) {
				cls_worker_destroy(w);
				return NULL;
			}
		}
	return w;
}

void
cls_worker_destroy(struct cls_worker *w)
{
	if (!w)
		return;
	/* workers are destroyed after they stop, one at a time: no concurrent update */
	w->e->decided += w->decided;
	for (unsigned int r = 0; r < CLS_UNKNOWN_MAX; r++)
		w->e->unknown[r] += w->unknown[r];
	for (unsigned int i = 0; i < w->e->n; i++)
		w->e->pl[i].won += w->won[i];
	for (unsigned int i = 0; i < w->e->n; i++)
		if (w->wctx[i] && w->e->pl[i].ops->worker_free)
			w->e->pl[i].ops->worker_free(w->e->pl[i].ctx, w->wctx[i]);
	free(w);
}

void
cls_session_begin(struct cls_worker *w, void *state)
{
	memset(state, 0, w->e->state_size);
}

static void
free_plugins(struct cls_worker *w, void *state)
{
	struct cls_engine *e = w->e;
	if (hdr(state)->freed)
		return;
	hdr(state)->freed = 1;
	for (unsigned int i = 0; i < e->n; i++)
		if (e->pl[i].ops->session_free)
			e->pl[i].ops->session_free(e->pl[i].ctx, w->wctx[i], slot_of(&e->pl[i], state));
}

/* The evidence an answer rests on: its own, or its plugin's declared one. */
static inline uint8_t
evidence_of(const struct cls_engine *e, unsigned int i, const struct cls_result *r)
{
	return r->evidence > CLS_EV_DEFAULT && r->evidence < CLS_EV_MAX ? r->evidence :
		e->pl[i].evidence;
}

/* Does another classifier name the same application as answer i? */
static bool
agreed(const struct cls_worker *w, unsigned int i)
{
	for (unsigned int k = 0; k < w->e->n; k++)
		if (k != i && w->res[k].app_id == w->res[i].app_id && w->res[k].confidence)
			return true;
	return false;
}

/* The winner among the answers in w->res[0..n) by the rule of cls_engine.h, -1 for none, with
 * its confidence and, without a winner, why. Reads the answers only. At most CLS_MAX_PLUGINS
 * answers: a few small loops. */
static int
choose(struct cls_worker *w, bool any_ready, unsigned int *conf_out, uint8_t *reason_out)
{
	struct cls_engine *e = w->e;
	int winner = -1;
	unsigned int conf = 0;
	uint8_t reason = CLS_UNKNOWN_NO_ANSWER;
	bool any_answer = false;
	uint8_t ev[CLS_MAX_PLUGINS]; /* an answer's evidence class; 0: not a candidate */
	uint8_t top = CLS_EV_DEFAULT;

	for (unsigned int i = 0; i < e->n; i++) {
		const struct cls_result *r = &w->res[i];
		ev[i] = CLS_EV_DEFAULT;
		if (r->app_id == 0 || r->confidence == 0)
			continue;
		any_answer = true;
		uint8_t v = evidence_of(e, i, r);
		/* a loose byte shape alone does not decide: it needs a second opinion or a
		 * confidence its plugin reserves for shapes it is sure of */
		if (v == CLS_EV_SHAPE && r->confidence < CLS_SHAPE_ALONE_MIN && !agreed(w, i))
			continue;
		ev[i] = v;
		if (r->confidence >= e->p.min_confidence && v > top)
			top = v;
	}

	if (top == CLS_EV_DEFAULT) {
		/* nothing confident enough (or only lone shapes): unknown, reason below */
	} else if (e->p.policy == CLS_POLICY_PRIORITY) {
		for (unsigned int i = 0; i < e->n; i++) {
			const struct cls_result *r = &w->res[i];
			if (ev[i] == top && r->confidence >= e->p.min_confidence) {
				winner = (int)i;
				conf = r->confidence;
				break;
			}
		}
	} else {
		/* weighted vote within the top evidence class: score(app) = sum of weight x
		 * confidence of the class's plugins naming it, normalised by the weights of every
		 * plugin of the class that named something */
		uint32_t total_w = 0, best_score = 0, second = 0;
		for (unsigned int i = 0; i < e->n; i++)
			if (ev[i] == top)
				total_w += e->pl[i].weight;
		for (unsigned int i = 0; i < e->n; i++) {
			const struct cls_result *r = &w->res[i];
			if (ev[i] != top)
				continue;
			bool seen = false;
			for (unsigned int k = 0; k < i; k++)
				seen |= ev[k] == top && w->res[k].app_id == r->app_id;
			if (seen)
				continue;
			uint32_t score = 0;
			int best_member = (int)i;
			for (unsigned int k = i; k < e->n; k++)
				if (ev[k] == top && w->res[k].app_id == r->app_id) {
					score += e->pl[k].weight * w->res[k].confidence;
					if (w->res[k].confidence > w->res[best_member].confidence)
						best_member = (int)k;
				}
			if (score > best_score) {
				second = best_score;
				best_score = score;
				winner = best_member;
			} else if (score > second) {
				second = score;
			}
		}
		if (winner >= 0) {
			conf = total_w ? best_score / total_w : 0;
			if (second == best_score) {
				winner = -1;
				reason = CLS_UNKNOWN_TIE;
			} else if (conf < e->p.min_confidence) {
				winner = -1;
				reason = CLS_UNKNOWN_LOW_CONFIDENCE;
			}
		}
	}
	if (winner < 0 && reason == CLS_UNKNOWN_NO_ANSWER) {
		if (any_answer)
			reason = CLS_UNKNOWN_LOW_CONFIDENCE;
		else if (!any_ready)
			reason = CLS_UNKNOWN_NO_PAYLOAD;
	}

	*conf_out = conf;
	*reason_out = reason;
	return winner;
}

/* The decision of answer `winner` (>= 0): its application, and the sub id, service and
 * sub-label another classifier that agrees may add (the port table says TLS, the TLS
 * dissector knows the SNI and ALPN). The sub-label is returned, not copied. */
static const char *
describe(const struct cls_worker *w, int winner, unsigned int conf, struct cls_decision *d)
{
	const struct cls_engine *e = w->e;
	const struct cls_result *r = &w->res[winner];
	d->app_id = r->app_id;
	d->sub_id = r->sub_id;
	d->confidence = (uint8_t)(conf > 100 ? 100 : conf);
	d->classifier = (int8_t)winner;
	d->reason = CLS_UNKNOWN_NONE;
	d->service_id = r->service_id;
	const char *lbl = r->label;
	for (unsigned int i = 0; i < e->n; i++) {
		const struct cls_result *o = &w->res[i];
		if (o->app_id != r->app_id || !o->confidence)
			continue;
		if (!lbl[0] && o->label[0])
			lbl = o->label;
		if (!d->sub_id && o->sub_id)
			d->sub_id = o->sub_id;
		if (!d->service_id && o->service_id)
			d->service_id = o->service_id;
	}
	return lbl;
}

/* Combine the answers in w->res[0..n) into the session's decision, once per session. */
static void
combine(struct cls_worker *w, void *state, bool any_ready, struct cls_decision *d)
{
	struct cls_engine *e = w->e;
	struct sess_hdr *h = hdr(state);
	unsigned int conf;
	uint8_t reason;
	int winner = choose(w, any_ready, &conf, &reason);

	char *label = label_of(e, state);
	label[0] = '\0';
	h->decided = 1;
	h->classifier = (int8_t)winner;
	if (winner >= 0) {
		struct cls_decision dd;
		const char *lbl = describe(w, winner, conf, &dd);
		h->app_id = dd.app_id;
		h->sub_id = dd.sub_id;
		h->confidence = dd.confidence;
		h->reason = CLS_UNKNOWN_NONE;
		h->service_id = dd.service_id;
		snprintf(label, e->p.label_size, "%s", lbl);
		/* no classifier named the service: the name the session carries may */
		if (!h->service_id)
			h->service_id = cls_services_match(e->services, label);
		w->won[winner]++;
		w->decided++;
	} else {
		h->app_id = 0;
		h->sub_id = 0;
		h->service_id = 0;
		h->confidence = 0;
		h->reason = reason;
		w->unknown[reason]++;
	}
	cls_session_decision(state, d);
}

static void
ask_all(struct cls_worker *w, void *state, const struct cls_session *s)
{
	struct cls_engine *e = w->e;
	for (unsigned int i = 0; i < e->n; i++) {
		memset(&w->res[i], 0, offsetof(struct cls_result, label) + 1);
		e->pl[i].ops->classify_session(e->pl[i].ctx, slot_of(&e->pl[i], state), s, &w->res[i]);
		w->res[i].label[CLS_LABEL_MAX - 1] = '\0';
	}
}

void
cls_expect_add(struct cls_expect *x, const struct cls_expectation *e, uint64_t now_ns)
{
	if (!x || !x->t || !e || !e->port)
		return;
	struct expect_table *t = x->t;
	pthread_mutex_lock(&t->mu);
	unsigned int k = t->next++ % EXPECT_SLOTS;
	if (!t->slot[k].used)
		atomic_fetch_add(&t->live, 1);
	t->slot[k].x = *e;
	t->slot[k].until = now_ns + EXPECT_TTL_NS;
	t->slot[k].plugin = x->current_plugin;
	t->slot[k].used = 1;
	pthread_mutex_unlock(&t->mu);
}

static bool
ep_match(const uint8_t *addr, uint16_t port, const uint8_t *peer, const struct cls_expectation *x)
{
	static const uint8_t zero[16];
	return port == x->port && memcmp(addr, x->addr, 16) == 0 &&
		(memcmp(x->peer, zero, 16) == 0 || memcmp(peer, x->peer, 16) == 0);
}

/* The first packet of a session: was it announced? Consumes the expectation. */
static int
expected(struct cls_worker *w, const struct cls_session *s, uint64_t now, struct cls_result *out)
{
	struct expect_table *t = &w->e->expect;
	int who = -2;
	pthread_mutex_lock(&t->mu);
	for (unsigned int k = 0; k < EXPECT_SLOTS && atomic_load(&t->live); k++) {
		if (!t->slot[k].used)
			continue;
		if (t->slot[k].until < now) {
			t->slot[k].used = 0;
			atomic_fetch_sub(&t->live, 1);
			continue;
		}
		const struct cls_expectation *e = &t->slot[k].x;
		if (e->proto != s->key.proto || e->family != s->key.family)
			continue;
		if (!ep_match(s->key.dst, s->key.dport, s->key.src, e) &&
			!ep_match(s->key.src, s->key.sport, s->key.dst, e))
			continue;
		memset(out, 0, sizeof(*out));
		out->app_id = e->app_id;
		out->sub_id = e->sub_id;
		out->confidence = e->confidence;
		out->flags = CLS_RES_FINAL;
		t->slot[k].used = 0;
		atomic_fetch_sub(&t->live, 1);
		who = t->slot[k].plugin;
		break;
	}
	pthread_mutex_unlock(&t->mu);
	return who;
}

bool
cls_session_packet(struct cls_worker *w, void *state, const struct cls_session *s,
	const struct cls_packet *pkt, struct cls_decision *d)
{
	struct cls_engine *e = w->e;
	if (hdr(state)->decided)
		return false;
	if (pkt->index == 0 && atomic_load_explicit(&e->expect.live, memory_order_relaxed)) {
		int who = expected(w, s, pkt->ts_ns, &w->res[0]);
		if (who != -2) {
			struct sess_hdr *h = hdr(state);
			h->decided = 1;
			h->classifier = (int8_t)who;
			h->app_id = w->res[0].app_id;
			h->sub_id = w->res[0].sub_id;
			h->confidence = w->res[0].confidence;
			h->reason = CLS_UNKNOWN_NONE;
			if (who >= 0)
				w->won[who]++;
			w->decided++;
			cls_session_decision(state, d);
			free_plugins(w, state);
			return true;
		}
	}
	struct cls_packet pp = *pkt;
	const struct cls_packet *p = &pp;
	pp.expect = &w->expect;
	bool all_ready = true;
	for (unsigned int i = 0; i < e->n; i++) {
		const struct cls_plugin *ops = e->pl[i].ops;
		void *slot = slot_of(&e->pl[i], state);
		w->expect.current_plugin = (int8_t)i;
		if (ops->packet)
			ops->packet(e->pl[i].ctx, w->wctx[i], slot, s, p);
		if (all_ready && !ops->is_session_classifiable(e->pl[i].ctx, slot, s))
			all_ready = false;
	}
	if (!all_ready)
		return false;
	/* TIE's rule: every enabled classifier is ready — decide now */
	ask_all(w, state, s);
	combine(w, state, true, d);
	free_plugins(w, state);
	return true;
}

bool
cls_session_settled(struct cls_worker *w, void *state, const struct cls_session *s,
	struct cls_decision *d)
{
	struct cls_engine *e = w->e;
	if (hdr(state)->decided) {
		cls_session_decision(state, d);
		return true;
	}
	uint8_t waiting = CLS_EV_DEFAULT; /* the strongest class a waiting classifier may give */
	uint8_t best = CLS_EV_DEFAULT;    /* the strongest confident class given */
	bool ready[CLS_MAX_PLUGINS];
	/* a classifier still reading is heard when it has an answer it will not change
	 * (answer_early: the FTP dissector reads a control session to its end for the data
	 * sessions, but knows it is FTP at the greeting); else it waits. Only ready ones are
	 * asked to classify (asking one that is not may end its reading: nDPI gives up), and
	 * only those whose class can reach the strongest class still waiting: the others could
	 * not settle anything (and the statistical one's answer costs a log per class) */
	for (unsigned int i = 0; i < e->n; i++) {
		const struct cls_plugin *ops = e->pl[i].ops;
		void *slot = slot_of(&e->pl[i], state);
		memset(&w->res[i], 0, offsetof(struct cls_result, label) + 1);
		ready[i] = ops->is_session_classifiable(e->pl[i].ctx, slot, s);
		if (!ready[i] && ops->answer_early &&
			ops->answer_early(e->pl[i].ctx, slot, s, &w->res[i])) {
			ready[i] = true;
			w->res[i].label[CLS_LABEL_MAX - 1] = '\0';
		} else if (!ready[i]) {
			memset(&w->res[i], 0, offsetof(struct cls_result, label) + 1);
			if (e->pl[i].evidence > waiting)
				waiting = e->pl[i].evidence;
		}
	}
	for (unsigned int i = 0; i < e->n; i++) {
		if (!ready[i] || w->res[i].app_id || e->pl[i].evidence < waiting)
			continue;
		e->pl[i].ops->classify_session(e->pl[i].ctx, slot_of(&e->pl[i], state), s,
			&w->res[i]);
		w->res[i].label[CLS_LABEL_MAX - 1] = '\0';
	}
	for (unsigned int i = 0; i < e->n; i++) {
		const struct cls_result *r = &w->res[i];
		uint8_t v = evidence_of(e, i, r);
		if (!r->app_id || r->confidence < e->p.min_confidence || !r->confidence)
			continue;
		/* a lone loose shape never decides early: combine() would want a second opinion */
		if (v == CLS_EV_SHAPE && r->confidence < CLS_SHAPE_ALONE_MIN && !agreed(w, i))
			continue;
		if (v > best)
			best = v;
	}
	if (best == CLS_EV_DEFAULT || best < waiting)
		return false;
	if (best == waiting) {
		/* a classifier of the same class still waits: under the priority policy the first
		 * confident answer of the class wins, so it is settled when that answer comes
		 * before every classifier still waiting in the class; a vote would need them all */
		if (e->p.policy != CLS_POLICY_PRIORITY)
			return false;
		for (unsigned int i = 0; i < e->n; i++) {
			const struct cls_result *r = &w->res[i];
			if (!ready[i] && e->pl[i].evidence == best)
				return false; /* waiting, and first in the class */
			if (ready[i] && r->app_id && r->confidence >= e->p.min_confidence &&
				evidence_of(e, i, r) == best)
				break; /* the winner */
		}
	}
	unsigned int conf;
	uint8_t reason;
	int winner = choose(w, true, &conf, &reason);
	if (winner < 0)
		return false;
	const char *lbl = describe(w, winner, conf, d);
	if (!d->service_id)
		d->service_id = cls_services_match(e->services, lbl);
	return true;
}

void
cls_session_finish(struct cls_worker *w, void *state, const struct cls_session *s,
	struct cls_decision *d)
{
	struct cls_engine *e = w->e;
	if (hdr(state)->decided) {
		cls_session_decision(state, d);
		return;
	}
	bool any_ready = false;
	for (unsigned int i = 0; i < e->n; i++)
		any_ready |= e->pl[i].ops->is_session_classifiable(e->pl[i].ctx,
			slot_of(&e->pl[i], state), s);
	ask_all(w, state, s);
	combine(w, state, any_ready, d);
}

bool
cls_session_decided(const void *state)
{
	return ((const struct sess_hdr *)state)->decided;
}

void
cls_session_decision(const void *state, struct cls_decision *d)
{
	const struct sess_hdr *h = state;
	d->app_id = h->app_id;
	d->sub_id = h->sub_id;
	d->confidence = h->confidence;
	d->classifier = h->classifier;
	d->reason = h->decided ? h->reason : CLS_UNKNOWN_NO_PAYLOAD;
	d->service_id = h->service_id;
}

const char *
cls_session_label(const struct cls_engine *e, const void *state)
{
	return label_of(e, (void *)(uintptr_t)state);
}

char *
cls_session_label_slot(const struct cls_engine *e, void *state)
{
	return label_of(e, state);
}

uint32_t
cls_engine_label_size(const struct cls_engine *e)
{
	return e->p.label_size;
}

void
cls_session_sign(struct cls_worker *w, void *state, const struct cls_session *s,
	const struct cls_truth *truth)
{
	struct cls_engine *e = w->e;
	for (unsigned int i = 0; i < e->n; i++)
		if (e->pl[i].ops->session_sign)
			e->pl[i].ops->session_sign(e->pl[i].ctx, slot_of(&e->pl[i], state), s, truth);
}

void
cls_session_end(struct cls_worker *w, void *state)
{
	free_plugins(w, state);
}

int
cls_engine_train(struct cls_engine *e, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < e->n; i++) {
		if (!e->pl[i].ops->train)
			continue;
		char path[1100];
		snprintf(path, sizeof(path), "%s/%s.model", e->model_dir, e->pl[i].name);
		int rc = e->pl[i].ops->train(e->pl[i].ctx, path);
		if (rc != 0) {
			snprintf(err, errlen, "classifier '%s': training into %s failed: %s",
				e->pl[i].name, path, strerror(rc < 0 ? -rc : rc));
			return -1;
		}
	}
	return 0;
}

void
cls_engine_dump_statistics(struct cls_engine *e, FILE *out)
{
	fprintf(out, "# combiner: %s policy, %" PRIu64 " sessions identified\n",
		e->p.policy == CLS_POLICY_VOTE ? "vote" : "priority", e->decided);
	for (unsigned int i = 0; i < e->n; i++)
		fprintf(out, "#   %-12s decided %" PRIu64 "\n", e->pl[i].name, e->pl[i].won);
	for (unsigned int r = 1; r < CLS_UNKNOWN_MAX; r++)
		if (e->unknown[r])
			fprintf(out, "#   unknown: %s: %" PRIu64 "\n", cls_unknown_reasons[r],
				e->unknown[r]);
	for (unsigned int i = 0; i < e->n; i++)
		if (e->pl[i].ops->dump_statistics)
			e->pl[i].ops->dump_statistics(e->pl[i].ctx, out);
}
