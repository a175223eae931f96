/* test_cls_expect.c — expected sessions: the FTP control dissector announces PASV (227), EPSV
 * (229), PORT and EPRT endpoints and the TFTP dissector its transfer, through the engine; the
 * matching data session is decided at its first packet, once; unrelated sessions are not. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cls_engine.h"

static char config_dir[1024], enabled[256];

struct sess {
	struct cls_session s;
	void *state;
	uint32_t n;
};

static void
sess_init(struct cls_worker *w, struct cls_engine *e, struct sess *x, int family, uint8_t proto,
	const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	memset(x, 0, sizeof(*x));
	x->s.key.family = (uint8_t)family;
	x->s.key.proto = proto;
	inet_pton(family == 4 ? AF_INET : AF_INET6, src, x->s.key.src);
	inet_pton(family == 4 ? AF_INET : AF_INET6, dst, x->s.key.dst);
	x->s.key.sport = sport;
	x->s.key.dport = dport;
	x->state = malloc(cls_engine_state_size(e));
	cls_session_begin(w, x->state);
}

/* returns true when this packet decided the session */
static bool
feed(struct cls_worker *w, struct sess *x, uint8_t dir, const char *text, uint64_t ts,
	struct cls_decision *d)
{
	struct cls_packet p = {.payload = (const uint8_t *)text, .payload_len = (uint32_t)strlen(text),
		.ts_ns = ts, .index = x->n++, .dir = dir, .l4proto = x->s.key.proto};
	x->s.pkts[dir]++;
	return cls_session_packet(w, x->state, &x->s, &p, d);
}

static void
sess_end(struct cls_worker *w, struct sess *x, struct cls_decision *d)
{
	cls_session_finish(w, x->state, &x->s, d);
	cls_session_end(w, x->state);
	free(x->state);
}

static struct cls_engine *
engine(void)
{
	char err[512];
	struct cls_engine_params p = {.config_dir = config_dir, .enabled_path = enabled};
	struct cls_engine *e = cls_engine_create(&p, err, sizeof(err));
	if (!e)
		fprintf(stderr, "%s\n", err);
	assert_non_null(e);
	return e;
}

static void
control(struct cls_worker *w, struct sess *c, const char *server_line)
{
	struct cls_decision d;
	assert_false(feed(w, c, CLS_DIR_BWD, "220 (vsFTPd 3.0.3)\r\n", 1, &d));
	assert_false(feed(w, c, CLS_DIR_FWD, "USER anonymous\r\n", 2, &d));
	assert_false(feed(w, c, CLS_DIR_BWD, "331 Please specify the password.\r\n", 3, &d));
	/* FTP control stays undecided: it is read for its data endpoints */
	assert_false(feed(w, c, server_line[0] == 'P' || server_line[0] == 'E' ? CLS_DIR_FWD :
			CLS_DIR_BWD, server_line, 4, &d));
}

static void
expect_data(struct cls_engine *e, struct cls_worker *w, int family, const char *src, uint16_t sp,
	const char *dst, uint16_t dp, bool want)
{
	struct sess x;
	struct cls_decision d;
	sess_init(w, e, &x, family, 6, src, sp, dst, dp);
	bool decided = feed(w, &x, CLS_DIR_FWD, "", 5, &d);
	assert_int_equal(decided, want);
	if (want) {
		assert_int_equal(d.app_id, cls_apps_id(cls_engine_apps(e), "FTP"));
		assert_int_not_equal(d.sub_id, 0);
		assert_string_equal(cls_engine_plugin_name(e, d.classifier), "ftp");
	}
	sess_end(w, &x, &d);
}

static void
test_ftp_modes(void **st)
{
	(void)st;
	struct cls_engine *e = engine();
	struct cls_worker *w = cls_worker_create(e);
	struct sess c;
	struct cls_decision d;

	sess_init(w, e, &c, 4, 6, "10.0.0.2", 40000, "10.0.0.1", 21);
	control(w, &c, "227 Entering Passive Mode (10,0,0,1,117,51).\r\n");
	expect_data(e, w, 4, "10.0.0.3", 40001, "10.0.0.1", 117 * 256 + 51, false); /* other peer */
	expect_data(e, w, 4, "10.0.0.2", 40001, "10.0.0.1", 117 * 256 + 51, true);
	expect_data(e, w, 4, "10.0.0.2", 40002, "10.0.0.1", 117 * 256 + 51, false); /* used once */
	assert_false(feed(w, &c, CLS_DIR_BWD, "229 Entering Extended Passive Mode (|||30004|)\r\n", 6, &d));
	expect_data(e, w, 4, "10.0.0.2", 40003, "10.0.0.1", 30004, true);
	assert_false(feed(w, &c, CLS_DIR_FWD, "PORT 10,0,0,2,200,10\r\n", 7, &d));
	/* active mode: the server connects from port 20 to the client's announced port */
	expect_data(e, w, 4, "10.0.0.1", 20, "10.0.0.2", 200 * 256 + 10, true);
	sess_end(w, &c, &d);
	assert_int_equal(d.app_id, cls_apps_id(cls_engine_apps(e), "FTP"));

	sess_init(w, e, &c, 6, 6, "fd00::2", 40000, "fd00::1", 21);
	control(w, &c, "EPRT |2|fd00::2|5282|\r\n");
	expect_data(e, w, 6, "fd00::1", 20, "fd00::2", 5282, true);
	sess_end(w, &c, &d);
	cls_worker_destroy(w);
	cls_engine_destroy(e);
}

static void
test_not_ftp_gives_up(void **st)
{
	(void)st;
	struct cls_engine *e = engine();
	struct cls_worker *w = cls_worker_create(e);
	struct sess c;
	struct cls_decision d;
	bool decided = false;
	sess_init(w, e, &c, 4, 6, "10.0.0.2", 40000, "10.0.0.1", 21);
	for (int i = 0; i < 10 && !decided; i++)
		decided = feed(w, &c, CLS_DIR_FWD, "GET / HTTP/1.1\r\n", (uint64_t)i, &d);
	assert_true(decided); /* bounded: the dissector gives up after a few packets */
	/* only the port table's guess is left, not the dissector's recognition */
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "port");
	sess_end(w, &c, &d);
	cls_worker_destroy(w);
	cls_engine_destroy(e);
}

static void
test_tftp_transfer(void **st)
{
	(void)st;
	struct cls_engine *e = engine();
	struct cls_worker *w = cls_worker_create(e);
	struct sess r, x;
	struct cls_decision d;
	static const char rrq[] = "\0\1boot.img\0octet\0";
	sess_init(w, e, &r, 4, 17, "10.0.0.2", 50000, "10.0.0.1", 69);
	struct cls_packet p = {.payload = (const uint8_t *)rrq, .payload_len = sizeof(rrq) - 1,
		.ts_ns = 1, .dir = CLS_DIR_FWD, .l4proto = 17};
	r.s.pkts[0] = 1;
	assert_true(cls_session_packet(w, r.state, &r.s, &p, &d));
	assert_int_equal(d.app_id, cls_apps_id(cls_engine_apps(e), "TFTP"));
	/* the server answers from a new port to the client's */
	sess_init(w, e, &x, 4, 17, "10.0.0.1", 33333, "10.0.0.2", 50000);
	p.payload = (const uint8_t *)"\0\3\0\1data";
	p.payload_len = 8;
	x.s.pkts[0] = 1;
	assert_true(cls_session_packet(w, x.state, &x.s, &p, &d));
	assert_int_equal(d.app_id, cls_apps_id(cls_engine_apps(e), "TFTP"));
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "tftp");
	sess_end(w, &x, &d);
	sess_end(w, &r, &d);
	cls_worker_destroy(w);
	cls_engine_destroy(e);
}

int
main(void)
{
	const char *src = getenv("TIDE_SOURCE_ROOT");
	if (!src)
		return 1;
	snprintf(config_dir, sizeof(config_dir), "%s/config", src);
	snprintf(enabled, sizeof(enabled), "/tmp/tide-expect-%d", (int)getpid());
	FILE *f = fopen(enabled, "w");
	if (!f)
		return 1;
	fputs("ftp\ntftp\nport\n", f);
	fclose(f);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ftp_modes),
		cmocka_unit_test(test_not_ftp_gives_up),
		cmocka_unit_test(test_tftp_transfer),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(enabled);
	return rc;
}
