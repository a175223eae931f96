/* cls_stat.c — the statistical classifier: Gaussian naive Bayes over the sizes, directions and
 * inter-arrival times of a session's first N packets, plus its transport protocol. Trained by
 * TIE's trainer from pre-classified (ground-truth) sessions; the model is a small text file.
 *
 * Why naive Bayes: it trains in one pass with O(classes x features) memory, needs no tuning,
 * gives a posterior to use as confidence, and is a classic baseline for early-packet traffic
 * classification (Moore & Zuev 2005). Ports are deliberately not features: this classifier is
 * the one that still works when applications move off their ports.
 *
 * Features (D = 3N): for packet i < N: log(1 + payload size), direction (0/1), log(1 + IAT µs);
 * absent packets count as size 0, direction 0.5, IAT 0. Ready once N packets were seen; a
 * shorter session is classified when it ends.
 *
 * Novelty: naive Bayes always names one of the classes it was trained on, however unlike them
 * a session is — and the shipped model knows 14 applications. A session whose mean squared
 * z-score to the best class exceeds `novelty` (option novelty=Z, default 4: on average two
 * standard deviations away per feature) is answered "don't know" instead, so traffic the model
 * never saw is not forced into one of its classes. Measured with the shipped model: on the
 * labelled test capture it abstains on 2 of 255 sessions (198 right before and after); on the
 * demo link's traffic, which it was not trained on, on 33 of 73, which it would have named
 * wrongly.
 *
 * Openings only: the features describe a session's first packets, so a TCP session that did
 * not begin with a SYN (the capture joined it mid-way) is neither classified nor trained on —
 * its "first" packets are someone else's middle, and the model would name it with confidence
 * and be wrong (measured: with the first 6 packets of every TCP session cut, HTTP came out as
 * DNS 30 times). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cls_plugin.h"
#include "tide_log.h"

#define STAT_MAX_CLASSES 128
#define STAT_MAX_D (3 * CLS_FIRST_N_MAX)
#define STAT_MAX_TRAIN (1u << 20)    /* training sessions kept (bounded memory) */

struct stat_class {
	uint16_t app_id, sub_id;
	uint64_t count;
	double log_prior;
	double mean[STAT_MAX_D];
	double var[STAT_MAX_D];
	uint64_t proto[3];           /* tcp, udp, other: categorical with Laplace smoothing */
};

struct stat_sample {
	float x[STAT_MAX_D];
	uint16_t app_id, sub_id;
	uint8_t proto;
};

struct stat_ctx {
	uint32_t n;                  /* packets used */
	uint32_t d;
	unsigned int n_classes;
	struct stat_class cls[STAT_MAX_CLASSES];
	bool trained;
	uint8_t min_conf;
	double novelty;              /* abstain above this mean squared z-score (0: never) */
	/* training buffer */
	struct stat_sample *train;
	size_t n_train;
	uint64_t classified, abstained, novel, midway;
};

/* per session: did it open with a SYN (TCP)? */
struct stat_state {
	uint8_t seen;
	uint8_t opened;
};

#define TCP_SYN 0x02

static unsigned int
proto_bin(uint8_t p)
{
	return p == 6 ? 0 : p == 17 ? 1 : 2;
}

static void
features(const struct stat_ctx *c, const struct cls_session *s, double *x)
{
	const struct cls_features *f = &s->feat;
	for (uint32_t i = 0; i < c->n; i++) {
		bool have = f->sizes && i < f->n_pkts;
		x[3 * i] = have ? log1p(f->sizes[i]) : 0.0;
		x[3 * i + 1] = have ? (double)f->dirs[i] : 0.5;
		x[3 * i + 2] = have ? log1p(f->iat_us[i]) : 0.0;
	}
}

static int
load_model(struct stat_ctx *c, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	unsigned int n, d, k;
	char magic[32];
	int rc = -EINVAL;
	if (fscanf(f, "%31s %u %u %u", magic, &n, &d, &k) != 4 || strcmp(magic, "tide-stat-v1") != 0 ||
		n == 0 || n > CLS_FIRST_N_MAX || d != 3 * n || k > STAT_MAX_CLASSES)
		goto out;
	c->n = n;
	c->d = d;
	c->n_classes = k;
	for (unsigned int i = 0; i < k; i++) {
		struct stat_class *sc = &c->cls[i];
		unsigned int app, sub;
		unsigned long long cnt, p0, p1, p2;
		if (fscanf(f, "%u %u %llu %llu %llu %llu", &app, &sub, &cnt, &p0, &p1, &p2) != 6)
			goto out;
		sc->app_id = (uint16_t)app;
		sc->sub_id = (uint16_t)sub;
		sc->count = cnt;
		sc->proto[0] = p0;
		sc->proto[1] = p1;
		sc->proto[2] = p2;
		for (unsigned int j = 0; j < d; j++)
			if (fscanf(f, "%lf %lf", &sc->mean[j], &sc->var[j]) != 2 || !(sc->var[j] > 0))
				goto out;
	}
	uint64_t total = 0;
	for (unsigned int i = 0; i < k; i++)
		total += c->cls[i].count;
	for (unsigned int i = 0; i < k; i++)
		c->cls[i].log_prior = log((double)c->cls[i].count / (double)total);
	c->trained = k > 0;
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int
stat_enable(void **ctx, const struct cls_config *cfg)
{
	struct stat_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n = cfg->first_n ? cfg->first_n : 8;
	if (c->n > CLS_FIRST_N_MAX)
		c->n = CLS_FIRST_N_MAX;
	c->d = 3 * c->n;
	c->min_conf = 60;
	c->novelty = 4.0;
	const char *nov = strstr(cfg->options ? cfg->options : "", "novelty=");
	if (nov) {
		char *end;
		double z = strtod(nov + 8, &end);
		if (end == nov + 8 || (*end && *end != ',') || !(z >= 0) || z > 1e6) {
			cfg->log(CLS_LOG_ERROR, "stat", "novelty=%.*s: want a number >= 0 (0: never "
				"abstain)", (int)strcspn(nov + 8, ","), nov + 8);
			free(c);
			return -EINVAL;
		}
		c->novelty = z;
	}
	char path[1024];
	const char *opt = strstr(cfg->options ? cfg->options : "", "model=");
	if (opt) {
		size_t l = strcspn(opt + 6, ",");
		snprintf(path, sizeof(path), "%.*s", (int)l, opt + 6);
	} else {
		snprintf(path, sizeof(path), "%s/stat.model", cfg->model_dir ? cfg->model_dir :
			cfg->config_dir);
	}
	int rc = load_model(c, path);
	if (rc == -EINVAL) {
		tide_warn("classify", "%s is not a valid model; ignoring it", path);
	}
	/* no model yet: the classifier abstains (and can be trained) */
	*ctx = c;
	return 0;
}

static void
stat_disable(void *ctx)
{
	struct stat_ctx *c = ctx;
	free(c->train);
	free(c);
}

static void
stat_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	struct stat_state *st = state;
	(void)ctx;
	(void)wctx;
	if (st->seen)
		return;
	st->seen = 1;
	st->opened = s->key.proto != 6 || (p->tcp_flags & TCP_SYN);
}

/* A session the model can speak for: it saw its opening (TCP: a SYN first). A session no
 * packet reached the plugin for (features handed over whole, as a replay of records does)
 * cannot be told apart and is taken as whole. */
static bool
from_opening(const void *state)
{
	const struct stat_state *st = state;
	return !st || !st->seen || st->opened;
}

static bool
stat_ready(void *ctx, void *state, const struct cls_session *s)
{
	const struct stat_ctx *c = ctx;
	/* mid-session: nothing to wait for, the answer will be "don't know" */
	return !c->trained || s->feat.n_pkts >= c->n || !s->feat.sizes || !from_opening(state);
}

static void
stat_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	struct stat_ctx *c = ctx;
	if (!c->trained || !s->feat.sizes || s->feat.n_pkts == 0) {
		out->flags = CLS_RES_GAVE_UP;
		__atomic_fetch_add(&c->abstained, 1, __ATOMIC_RELAXED); /* shared by workers */
		return;
	}
	if (!from_opening(state)) {
		out->flags = CLS_RES_GAVE_UP | CLS_RES_FINAL;
		__atomic_fetch_add(&c->midway, 1, __ATOMIC_RELAXED);
		return;
	}
	double x[STAT_MAX_D], best = -INFINITY, lp[STAT_MAX_CLASSES];
	unsigned int arg = 0;
	features(c, s, x);
	unsigned int pb = proto_bin(s->key.proto);
	for (unsigned int k = 0; k < c->n_classes; k++) {
		const struct stat_class *sc = &c->cls[k];
		double l = sc->log_prior +
			log((sc->proto[pb] + 1.0) / (sc->proto[0] + sc->proto[1] + sc->proto[2] + 3.0));
		for (uint32_t j = 0; j < c->d; j++) {
			double dx = x[j] - sc->mean[j];
			l += -0.5 * log(2 * M_PI * sc->var[j]) - dx * dx / (2 * sc->var[j]);
		}
		lp[k] = l;
		if (l > best) {
			best = l;
			arg = k;
		}
	}
	if (c->novelty > 0) {
		const struct stat_class *sc = &c->cls[arg];
		double z2 = 0;
		for (uint32_t j = 0; j < c->d; j++) {
			double dx = x[j] - sc->mean[j];
			z2 += dx * dx / sc->var[j];
		}
		if (z2 / c->d > c->novelty) {
			out->flags = CLS_RES_GAVE_UP | CLS_RES_FINAL;
			__atomic_fetch_add(&c->novel, 1, __ATOMIC_RELAXED);
			return;
		}
	}
	double z = 0;
	for (unsigned int k = 0; k < c->n_classes; k++)
		z += exp(lp[k] - best);
	double post = 1.0 / z;
	out->app_id = c->cls[arg].app_id;
	out->sub_id = c->cls[arg].sub_id;
	/* naive Bayes posteriors are over-confident: keep the stat classifier below the
	 * dissectors (90-100) so it never outvotes content evidence on its own */
	out->confidence = (uint8_t)(post * 80.0);
	out->flags = CLS_RES_FINAL;
	__atomic_fetch_add(&c->classified, 1, __ATOMIC_RELAXED);
}

static void
stat_sign(void *ctx, void *state, const struct cls_session *s, const struct cls_truth *truth)
{
	struct stat_ctx *c = ctx;
	if (!s->feat.sizes || !truth->app_id || c->n_train >= STAT_MAX_TRAIN || !from_opening(state))
		return;
	if (!c->train) {
		c->train = malloc(sizeof(*c->train) * 4096);
		if (!c->train)
			return;
	} else if ((c->n_train & (c->n_train - 1)) == 0 && c->n_train >= 4096) {
		struct stat_sample *n = realloc(c->train, sizeof(*n) * c->n_train * 2);
		if (!n)
			return;
		c->train = n;
	}
	double x[STAT_MAX_D];
	features(c, s, x);
	struct stat_sample *smp = &c->train[c->n_train++];
	for (uint32_t j = 0; j < c->d; j++)
		smp->x[j] = (float)x[j];
	smp->app_id = truth->app_id;
	smp->sub_id = 0; /* the statistical classifier learns applications, not sub-labels */
	smp->proto = s->key.proto;
}

static int
stat_train(void *ctx, const char *model_path)
{
	struct stat_ctx *c = ctx;
	if (c->n_train == 0) {
		tide_error("classify", "no labelled session to train on");
		return -ENODATA;
	}
	memset(c->cls, 0, sizeof(c->cls));
	c->n_classes = 0;
	for (size_t i = 0; i < c->n_train; i++) {
		const struct stat_sample *smp = &c->train[i];
		unsigned int k;
		for (k = 0; k < c->n_classes; k++)
			if (c->cls[k].app_id == smp->app_id)
				break;
		if (k == c->n_classes) {
			if (k == STAT_MAX_CLASSES)
				continue;
			c->cls[k].app_id = smp->app_id;
			c->n_classes++;
		}
		struct stat_class *sc = &c->cls[k];
		sc->count++;
		sc->proto[proto_bin(smp->proto)]++;
		for (uint32_t j = 0; j < c->d; j++) {
			/* Welford's running mean/variance */
			double dx = smp->x[j] - sc->mean[j];
			sc->mean[j] += dx / (double)sc->count;
			sc->var[j] += dx * (smp->x[j] - sc->mean[j]);
		}
	}
	FILE *f = fopen(model_path, "w");
	if (!f)
		return -errno;
	fprintf(f, "tide-stat-v1 %u %u %u\n", c->n, c->d, c->n_classes);
	for (unsigned int k = 0; k < c->n_classes; k++) {
		struct stat_class *sc = &c->cls[k];
		fprintf(f, "%u %u %llu %llu %llu %llu\n", sc->app_id, sc->sub_id,
			(unsigned long long)sc->count, (unsigned long long)sc->proto[0],
			(unsigned long long)sc->proto[1], (unsigned long long)sc->proto[2]);
		for (uint32_t j = 0; j < c->d; j++) {
			/* variance floor: a feature constant within a class must not make every other
			 * value impossible */
			double v = sc->count > 1 ? sc->var[j] / (double)(sc->count - 1) : 0;
			fprintf(f, "%.9g %.9g\n", sc->mean[j], v < 0.05 ? 0.05 : v);
		}
	}
	if (fclose(f) != 0)
		return -errno;
	tide_info("classify", "trained on %zu sessions, %u applications -> %s",
		c->n_train, c->n_classes, model_path);
	return load_model(c, model_path);
}

static int
stat_dump(void *ctx, FILE *out)
{
	const struct stat_ctx *c = ctx;
	fprintf(out, "# stat: model %s (%u applications), classified %llu, abstained %llu, "
		"unlike every class %llu, joined mid-session %llu\n", c->trained ? "loaded" :
		"absent", c->n_classes, (unsigned long long)c->classified,
		(unsigned long long)c->abstained, (unsigned long long)c->novel,
		(unsigned long long)c->midway);
	return 0;
}

const struct cls_plugin cls_plugin_stat = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_STATS,
	.name = "stat",
	.version = "1.0",
	.state_size = sizeof(struct stat_state),
	.needs = CLS_NEED_FIRST_N,
	.enable = stat_enable,
	.disable = stat_disable,
	.train = stat_train,
	.packet = stat_packet,
	.is_session_classifiable = stat_ready,
	.classify_session = stat_classify,
	.session_sign = stat_sign,
	.dump_statistics = stat_dump,
};
