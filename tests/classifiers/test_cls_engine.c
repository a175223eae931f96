/* test_cls_engine.c — the plugin manager and combiner: loading built-ins and shared objects,
 * the ABI check, config errors, optional plugins, TIE's readiness rule, both policies, the
 * ranking by evidence (DPI over a port, a dissector over DPI, a lone shape not deciding),
 * unknown reasons, the service of a decision (a plugin's own, else matched from the sub-label;
 * none without config/services.txt), and the template plugin end to end. Plugins are real
 * shared objects built by meson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cls_engine.h"

static char config_dir[1024], plugin_dir[1024], dummy_dir[1024], tmpdir[256];

static const char *
write_enabled(const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/enabled", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static struct cls_engine *
engine(const char *enabled, enum cls_policy pol, uint8_t min_conf, char *err, size_t errlen)
{
	struct cls_engine_params p = {
		.config_dir = config_dir,
		.enabled_path = write_enabled(enabled),
		.plugin_dir = plugin_dir,
		.model_dir = tmpdir,
		.policy = pol,
		.min_confidence = min_conf,
	};
	return cls_engine_create(&p, err, errlen);
}

/* one session of n payload packets whose first byte is b; returns the decision */
static struct cls_decision
run_session(struct cls_engine *e, uint8_t b, int n, bool *decided_early, char *label, size_t ll)
{
	struct cls_worker *w = cls_worker_create(e);
	void *state = malloc(cls_engine_state_size(e));
	struct cls_session s;
	struct cls_decision d;
	uint8_t payload[16];
	memset(&s, 0, sizeof(s));
	memset(payload, b, sizeof(payload));
	s.key.proto = 6;
	s.key.family = 4;
	cls_session_begin(w, state);
	*decided_early = false;
	for (int i = 0; i < n; i++) {
		struct cls_packet p = {.payload = payload, .payload_len = sizeof(payload), .index = (uint32_t)i};
		s.pkts[0]++;
		if (cls_session_packet(w, state, &s, &p, &d))
			*decided_early = true;
	}
	cls_session_finish(w, state, &s, &d);
	if (label)
		snprintf(label, ll, "%s", cls_session_label(e, state));
	cls_session_end(w, state);
	free(state);
	cls_worker_destroy(w);
	return d;
}

static uint16_t
app(struct cls_engine *e, const char *name)
{
	return cls_apps_id(cls_engine_apps(e), name);
}

static void
test_unknown_plugin_lists_builtins(void **st)
{
	(void)st;
	char err[512];
	assert_null(engine("nosuchthing\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown classifier 'nosuchthing'"));
	assert_non_null(strstr(err, "stat"));
}

static void
test_stale_abi_refused(void **st)
{
	(void)st;
	char err[512];
	assert_null(engine("stale\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "ABI"));
	assert_non_null(strstr(err, "stale"));
}

static void
test_config_errors(void **st)
{
	(void)st;
	char err[512];
	assert_null(engine("fixed_a weight=0\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, ":1: weight"));
	assert_null(engine("fixed_a\nfixed_a\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "enabled twice"));
	assert_null(engine("# nothing\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "no classifier enabled"));
	assert_null(engine("fixed_a noequals\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "key=value"));
	assert_null(engine("../etc/passwd\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "bad classifier name"));
}

static void
test_priority_takes_first_confident(void **st)
{
	(void)st;
	char err[512];
	bool early;
	struct cls_engine *e = engine("fixed_a app=TLS conf=60\nfixed_b app=HTTP conf=90\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
	assert_true(early); /* both always ready: decided at the first packet */
	assert_int_equal(d.app_id, app(e, "TLS"));
	assert_int_equal(d.confidence, 60);
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "fixed_a");
	cls_engine_destroy(e);
}

static void
test_vote_weighs_confidence(void **st)
{
	(void)st;
	char err[512];
	bool early;
	struct cls_engine *e = engine("fixed_a app=TLS conf=60\nfixed_b app=HTTP conf=90\n",
		CLS_POLICY_VOTE, 1, err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "HTTP"));
	assert_int_equal(d.confidence, 45); /* 90 of a possible 2 x 100 */
	cls_engine_destroy(e);

	e = engine("fixed_a weight=3 app=TLS conf=60\nfixed_b app=HTTP conf=90\n", CLS_POLICY_VOTE, 1,
		err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "TLS")); /* 3 x 60 beats 1 x 90 */
	cls_engine_destroy(e);

	e = engine("fixed_a app=TLS conf=50\nfixed_b app=HTTP conf=50\n", CLS_POLICY_VOTE, 1, err,
		sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, 0);
	assert_int_equal(d.reason, CLS_UNKNOWN_TIE);
	cls_engine_destroy(e);
}

static void
test_unknown_reasons(void **st)
{
	(void)st;
	char err[512];
	bool early;
	struct cls_engine *e = engine("fixed_a app=TLS conf=30\nfixed_b app=HTTP conf=40\n",
		CLS_POLICY_PRIORITY, 50, err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, 0);
	assert_int_equal(d.reason, CLS_UNKNOWN_LOW_CONFIDENCE);
	cls_engine_destroy(e);

	e = engine("fixed_a conf=0\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 3, &early, NULL, 0);
	assert_int_equal(d.app_id, 0);
	assert_int_equal(d.reason, CLS_UNKNOWN_NO_ANSWER);
	cls_engine_destroy(e);
}

static void
test_waits_for_every_classifier(void **st)
{
	(void)st;
	char err[512];
	bool early;
	/* fixed_b never becomes ready: TIE's rule defers the decision to the session's end */
	struct cls_engine *e = engine("fixed_a app=DNS conf=90\nfixed_b app=HTTP conf=10 ready=0\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 5, &early, NULL, 0);
	assert_false(early);
	assert_int_equal(d.app_id, app(e, "DNS"));
	cls_engine_destroy(e);
}

static void
test_label_from_agreeing_classifier(void **st)
{
	(void)st;
	char err[512], label[128];
	bool early;
	struct cls_engine *e = engine(
		"fixed_a app=TLS conf=90\nfixed_b app=TLS conf=50 label=www.example.org\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_int_equal(d.app_id, app(e, "TLS"));
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "fixed_a");
	assert_string_equal(label, "www.example.org");
	cls_engine_destroy(e);
}

static uint16_t
service(struct cls_engine *e, const char *name)
{
	uint16_t id = cls_services_id(cls_engine_services(e), name);
	assert_int_not_equal(id, 0);
	return id;
}

_Static_assert(CLS_ABI_VERSION == 5, "ABI 5: answer_early; 4: cls_result.service_id, cls_config.services");

/* The service: the winner's own; else that of an answer agreeing on the application (nDPI's
 * Google behind tide's TLS dissector) before anything the label says; else matched from the
 * sub-label by domain suffix; none for an unknown session or a label under no suffix. */
static void
test_service_decision(void **st)
{
	(void)st;
	char err[512], label[128];
	bool early;
	struct cls_engine *e = engine("fixed_a app=TLS conf=90 label=r3.sn-abc.googlevideo.com.\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_int_equal(d.app_id, app(e, "TLS"));
	assert_int_equal(d.service_id, service(e, "YouTube"));
	cls_engine_destroy(e);

	e = engine("fixed_a app=TLS conf=90 label=www.youtube.com service=Netflix\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_int_equal(d.service_id, service(e, "Netflix"));
	assert_string_equal(label, "www.youtube.com");
	cls_engine_destroy(e);

	e = engine("fixed_a app=TLS conf=90 ev=dissector label=www.youtube.com\n"
		   "fixed_b app=TLS conf=90 ev=dpi service=Google\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "fixed_a");
	assert_int_equal(d.service_id, service(e, "Google"));
	cls_engine_destroy(e);

	/* a disagreeing answer's service is not taken: the label decides */
	e = engine("fixed_a app=TLS conf=90 ev=dissector label=www.youtube.com\n"
		   "fixed_b app=HTTP conf=90 ev=dpi service=Google\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_int_equal(d.service_id, service(e, "YouTube"));
	cls_engine_destroy(e);

	e = engine("fixed_a app=TLS conf=90 label=www.notgoogle.com\n", CLS_POLICY_PRIORITY, 1,
		err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_int_equal(d.service_id, 0);
	cls_engine_destroy(e);

	e = engine("fixed_a app=TLS conf=10 label=www.google.com service=Google\n",
		CLS_POLICY_PRIORITY, 50, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_int_equal(d.app_id, 0);
	assert_int_equal(d.service_id, 0);
	cls_engine_destroy(e);

	/* a service a plugin names must be in the table */
	assert_null(engine("fixed_a app=TLS conf=90 service=NoSuchService\n", CLS_POLICY_PRIORITY,
		1, err, sizeof(err)));
}

/* Without config/services.txt the engine starts, names no services, and a plugin asking the
 * (absent) table gets 0; a broken services.txt is refused at its line. */
static void
test_no_service_table(void **st)
{
	(void)st;
	char err[512], dir[300], path[400], cmd[2400];
	bool early;
	snprintf(dir, sizeof(dir), "%s/nosvc", tmpdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/tide_apps.txt %s/", dir, config_dir, dir);
	assert_int_equal(system(cmd), 0);
	struct cls_engine_params p = {
		.config_dir = dir,
		.enabled_path = write_enabled("fixed_a app=TLS conf=90 label=www.google.com\n"),
		.plugin_dir = plugin_dir,
		.model_dir = tmpdir,
		.min_confidence = 1,
	};
	struct cls_engine *e = cls_engine_create(&p, err, sizeof(err));
	assert_non_null(e);
	assert_null(cls_engine_services(e));
	struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "TLS"));
	assert_int_equal(d.service_id, 0);
	cls_engine_destroy(e);

	snprintf(path, sizeof(path), "%s/services.txt", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("1 Google google.com\n2 Google2 google.com\n", f);
	fclose(f);
	assert_null(cls_engine_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "services.txt:2: domain suffix listed twice"));
}

/* The evidence class decides before the policy: a port guess first in priority order and
 * surer in number still loses to a DPI verdict, under both policies. */
static void
test_dpi_beats_port(void **st)
{
	(void)st;
	char err[512];
	bool early;
	for (int pol = CLS_POLICY_PRIORITY; pol <= CLS_POLICY_VOTE; pol++) {
		struct cls_engine *e = engine(
			"fixed_a weight=10 app=HTTP conf=100 ev=port\nfixed_b app=TLS conf=60 ev=dpi\n",
			(enum cls_policy)pol, 1, err, sizeof(err));
		assert_non_null(e);
		struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
		assert_int_equal(d.app_id, app(e, "TLS"));
		assert_string_equal(cls_engine_plugin_name(e, d.classifier), "fixed_b");
		cls_engine_destroy(e);
	}
}

/* tide's dissectors keep their wins over nDPI, and the agreeing DPI answer still lends its
 * label when the dissector has none. A DPI answer below the minimum confidence does not
 * block a lower class from deciding. */
static void
test_dissector_beats_dpi(void **st)
{
	(void)st;
	char err[512], label[128];
	bool early;
	struct cls_engine *e = engine("fixed_a weight=50 app=HTTP conf=90 ev=dpi\n"
				      "fixed_b app=TLS conf=50 ev=dissector\n",
		CLS_POLICY_VOTE, 1, err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "TLS"));
	assert_int_equal(d.confidence, 50); /* the vote is within the dissector class only */
	cls_engine_destroy(e);

	e = engine("fixed_a app=TLS conf=90 ev=dpi label=maps.example\n"
		   "fixed_b app=TLS conf=70 ev=dissector\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, label, sizeof(label));
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "fixed_b");
	assert_string_equal(label, "maps.example");
	cls_engine_destroy(e);

	e = engine("fixed_a app=HTTP conf=20 ev=dpi\nfixed_b app=TLS conf=60 ev=port\n",
		CLS_POLICY_PRIORITY, 50, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "TLS"));
	cls_engine_destroy(e);
}

/* A byte shape alone does not decide; agreement (even a port's) or a very sure shape does;
 * an unconfirmed shape is ignored, so a disagreeing port answer decides. */
static void
test_lone_shape_does_not_decide(void **st)
{
	(void)st;
	char err[512];
	bool early;
	struct cls_engine *e = engine("fixed_a app=HTTP conf=80 ev=shape\n", CLS_POLICY_PRIORITY, 1,
		err, sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, 0);
	assert_int_equal(d.reason, CLS_UNKNOWN_LOW_CONFIDENCE);
	cls_engine_destroy(e);

	e = engine("fixed_a app=HTTP conf=80 ev=shape\nfixed_b app=HTTP conf=30 ev=port\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "HTTP"));
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "fixed_a");
	cls_engine_destroy(e);

	e = engine("fixed_a app=HTTP conf=80 ev=shape\nfixed_b app=TLS conf=30 ev=port\n",
		CLS_POLICY_VOTE, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "TLS"));
	cls_engine_destroy(e);

	e = engine("fixed_a app=HTTP conf=95 ev=shape\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "HTTP")); /* >= CLS_SHAPE_ALONE_MIN */
	cls_engine_destroy(e);
}

/* `optional`: an absent shared object is skipped and the engine runs with the rest; a present
 * but stale one is still refused; options after `optional` still apply; a file of absent
 * optional plugins enables nothing, which is an error. */
/* cls_session_settled on a fresh session after one packet: whether the application is
 * settled, *d then; the session itself stays undecided, and finishing it gives the same
 * application. */
static bool
settled_after_one(struct cls_engine *e, struct cls_decision *d)
{
	struct cls_worker *w = cls_worker_create(e);
	void *state = malloc(cls_engine_state_size(e));
	struct cls_session s;
	struct cls_decision fin;
	uint8_t payload[16] = {0};
	memset(&s, 0, sizeof(s));
	s.key.proto = 17;
	s.key.family = 4;
	s.pkts[0] = 1;
	cls_session_begin(w, state);
	struct cls_packet p = {.payload = payload, .payload_len = sizeof(payload)};
	bool decided = cls_session_packet(w, state, &s, &p, &fin);
	bool ok = cls_session_settled(w, state, &s, d);
	if (!decided) {
		assert_false(cls_session_decided(state)); /* asking changes nothing */
		cls_session_finish(w, state, &s, &fin);
		if (ok && fin.app_id != d->app_id)
			fail_msg("settled on %u, finished on %u (%s)", d->app_id, fin.app_id, cls_engine_plugin_name(e, fin.classifier));
	}
	cls_session_end(w, state);
	free(state);
	cls_worker_destroy(w);
	return ok;
}

/* A job that keeps sessions by application asks early: settled when no classifier still
 * reading could outrank the best ready answer (a higher evidence class, or the same class
 * earlier in priority order); never on a lone loose shape; a vote waits for its class. */
static void
test_settled_early(void **st)
{
	(void)st;
	char err[512];
	struct cls_decision d;
	struct {
		const char *enabled;
		enum cls_policy pol;
		const char *app; /* NULL: not settled */
	} cases[] = {
		/* a waiting plugin may give at most its declared class: fixed_b's is signature */
		{ "fixed_a app=QUIC conf=100 ev=dissector\nfixed_b app=HTTP conf=90 ready=0\n",
			CLS_POLICY_PRIORITY, "QUIC" },
		{ "fixed_a app=DNS conf=90 ev=port\nfixed_b app=HTTP conf=90 ready=0\n",
			CLS_POLICY_PRIORITY, NULL },
		{ "fixed_a app=QUIC conf=100\nfixed_b app=HTTP conf=90 ready=0\n",
			CLS_POLICY_PRIORITY, "QUIC" },
		{ "fixed_b app=HTTP conf=90 ready=0\nfixed_a app=QUIC conf=100\n",
			CLS_POLICY_PRIORITY, NULL },
		{ "fixed_a app=QUIC conf=100\nfixed_b app=HTTP conf=90 ready=0\n",
			CLS_POLICY_VOTE, NULL },
		{ "fixed_a app=MQTT conf=50 ev=shape\nfixed_b app=HTTP conf=90 ev=port ready=0\n",
			CLS_POLICY_PRIORITY, NULL },
		{ "fixed_a app=TLS conf=80 ev=dpi\nfixed_b app=HTTP conf=90 ev=dpi\n",
			CLS_POLICY_PRIORITY, "TLS" }, /* all ready: decided, and told so */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cls_engine *e = engine(cases[i].enabled, cases[i].pol, 1, err, sizeof(err));
		assert_non_null(e);
		bool ok = settled_after_one(e, &d);
		if (ok != (cases[i].app != NULL))
			fail_msg("case %zu: settled %d", i, ok);
		if (ok)
			assert_int_equal(d.app_id, app(e, cases[i].app));
		cls_engine_destroy(e);
	}
}

static void
test_optional_plugin(void **st)
{
	(void)st;
	char err[512];
	bool early;
	struct cls_engine *e = engine("notinstalled optional weight=2 max_packets=3\n"
				      "fixed_a optional app=DNS conf=70\n",
		CLS_POLICY_PRIORITY, 1, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(cls_engine_n_plugins(e), 1);
	assert_string_equal(cls_engine_plugin_name(e, 0), "fixed_a");
	struct cls_decision d = run_session(e, 0, 1, &early, NULL, 0);
	assert_int_equal(d.app_id, app(e, "DNS"));
	cls_engine_destroy(e);

	assert_null(engine("stale optional\nfixed_a app=DNS conf=70\n", CLS_POLICY_PRIORITY, 1, err,
		sizeof(err)));
	assert_non_null(strstr(err, "ABI"));
	assert_null(engine("notinstalled optional\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "no classifier enabled"));
	/* without the keyword an absent plugin is still an error */
	assert_null(engine("notinstalled\n", CLS_POLICY_PRIORITY, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown classifier 'notinstalled'"));
}

static void
test_template_plugin(void **st)
{
	(void)st;
	char err[512], label[128];
	bool early;
	snprintf(plugin_dir, sizeof(plugin_dir), "%s", dummy_dir);
	struct cls_engine *e = engine("dummy app=Telnet byte=255\n", CLS_POLICY_PRIORITY, 1, err,
		sizeof(err));
	assert_non_null(e);
	struct cls_decision d = run_session(e, 0xff, 1, &early, label, sizeof(label));
	assert_true(early);
	assert_int_equal(d.app_id, app(e, "Telnet"));
	assert_string_equal(label, "dummy byte 0xff");
	d = run_session(e, 0x41, 6, &early, NULL, 0);
	assert_int_equal(d.app_id, 0);
	assert_true(early); /* gave up after its bound: ready, so decided before the end */
	cls_engine_destroy(e);
	snprintf(plugin_dir, sizeof(plugin_dir), "%s", getenv("TIDE_PLUGIN_DIR"));
}

int
main(void)
{
	const char *src = getenv("TIDE_SOURCE_ROOT");
	const char *pd = getenv("TIDE_PLUGIN_DIR");
	const char *br = getenv("TIDE_BUILD_ROOT");
	if (!src || !pd || !br) {
		fprintf(stderr, "run through meson test (needs TIDE_SOURCE_ROOT etc.)\n");
		return 1;
	}
	snprintf(config_dir, sizeof(config_dir), "%s/config", src);
	snprintf(plugin_dir, sizeof(plugin_dir), "%s", pd);
	snprintf(dummy_dir, sizeof(dummy_dir), "%s/classifiers/plugins", br);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tide-engine-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_plugin_lists_builtins),
		cmocka_unit_test(test_stale_abi_refused),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_priority_takes_first_confident),
		cmocka_unit_test(test_vote_weighs_confidence),
		cmocka_unit_test(test_unknown_reasons),
		cmocka_unit_test(test_waits_for_every_classifier),
		cmocka_unit_test(test_label_from_agreeing_classifier),
		cmocka_unit_test(test_service_decision),
		cmocka_unit_test(test_no_service_table),
		cmocka_unit_test(test_dpi_beats_port),
		cmocka_unit_test(test_dissector_beats_dpi),
		cmocka_unit_test(test_lone_shape_does_not_decide),
		cmocka_unit_test(test_settled_early),
		cmocka_unit_test(test_optional_plugin),
		cmocka_unit_test(test_template_plugin),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return rc;
}
