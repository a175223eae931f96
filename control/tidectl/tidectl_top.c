/* tidectl_top.c — `tidectl top`: a live view, like top(1), of drones, links, worker cores and
 * jobs: packets/s, bits/s, drops by reason, ring occupancy, sessions, classification mix.
 *
 * Two sources. The Hive (GET /api/v1/drones, /links, /jobs, /jobs/{id}/apps) shows every drone;
 * a standalone tide-dataplane is read directly through its DPDK telemetry socket (/tide/stats,
 * /tide/links, /tide/workers, /tide/jobs), no control plane needed. Rates are differences of
 * the cumulative counters between two refreshes. On a terminal it draws on the alternate
 * screen and reads keys (q quits, space refreshes, + and - change the interval); otherwise it
 * prints --iterations frames (default 1) one after the other, like top -b. Every loop is
 * bounded: frames by --iterations (at most 10 million), lines by the screen. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tidectl.h"
#include "tidectl_out.h"
#include "tidectl_telemetry.h"
#include "tide_counters.h"

#define MAX_LINES 256
#define MAX_RATES 2048
#define MAX_FRAMES 10000000LL

extern const struct tc_cmd tc_top_cmds[];

enum style { PLAIN, BOLD, HEADER, WARN };

struct rate {
	char key[120];
	double value, t;
};

struct top {
	struct tc_ctx *c;
	const struct tc_cmd *cmd;
	double interval;
	long long iterations;
	const char *tel_arg;
	bool hive, interactive;
	int rows, cols;
	char tel_path[512];
	struct tc_tel *tel;
	char problem[1024];
	struct rate rates[MAX_RATES];
	int nrates;
	struct { char text[512]; enum style style; } lines[MAX_LINES];
	int nlines;
};

static volatile sig_atomic_t stop_flag, winch_flag;

static void
on_signal(int sig)
{
	if (sig == SIGWINCH)
		winch_flag = 1;
	else
		stop_flag = 1;
}

static void
line(struct top *t, enum style s, const char *fmt, ...)
{
	if (t->nlines >= MAX_LINES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->lines[t->nlines].text, sizeof(t->lines[0].text), fmt, ap);
	va_end(ap);
	t->lines[t->nlines++].style = s;
}

/* Per-second rate of a cumulative counter since the previous frame (0 at the first). */
static double
rate(struct top *t, const char *a, const char *b, double value)
{
	char key[120];
	double now = tc_now();
	snprintf(key, sizeof(key), "%s/%s", a, b);
	for (int i = 0; i < t->nrates; i++) {
		struct rate *r = &t->rates[i];
		if (strcmp(r->key, key) != 0)
			continue;
		double dt = now - r->t, dv = value - r->value;
		r->value = value;
		r->t = now;
		return dt > 0.05 && dv >= 0 ? dv / dt : 0;
	}
	if (t->nrates < MAX_RATES) {
		struct rate *r = &t->rates[t->nrates++];
		snprintf(r->key, sizeof(r->key), "%s", key);
		r->value = value;
		r->t = now;
	}
	return 0;
}

static const char *
cnt(double v, char *buf, size_t len)
{
	tc_fmt_count(v, buf, len);
	return buf;
}

static double
num(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* ---- from a standalone dataplane: DPDK telemetry ----------------------------------------- */

static bool
tel_connect(struct top *t)
{
	if (t->tel)
		return true;
	if (!t->tel_arg || strcmp(t->tel_arg, "auto") == 0) {
		if (tc_tel_discover(t->tel_path, sizeof(t->tel_path)) < 0) {
			snprintf(t->problem, sizeof(t->problem), "no live tide-dataplane telemetry socket "
				"in /var/run/dpdk/tide-*/ (is tide-dataplane running?)");
			return false;
		}
	} else {
		tc_tel_path(t->tel_arg, t->tel_path, sizeof(t->tel_path));
	}
	t->tel = tc_tel_open(t->tel_path);
	if (!t->tel) {
		snprintf(t->problem, sizeof(t->problem), "cannot connect to %s: %s", t->tel_path,
			strerror(errno));
		return false;
	}
	t->nrates = 0;
	t->problem[0] = '\0';
	return true;
}

static void
tel_frame(struct top *t)
{
	char a[24], b[24], c2[24], d[24];
	json_t *st = NULL, *links = NULL, *workers = NULL, *jobs = NULL;
	if (!tel_connect(t)) {
		line(t, BOLD, "tidectl top - standalone tide-dataplane");
		line(t, WARN, "%s", t->problem);
		return;
	}
	st = tc_tel_cmd(t->tel, "/tide/stats");
	links = st ? tc_tel_cmd(t->tel, "/tide/links") : NULL;
	workers = links ? tc_tel_cmd(t->tel, "/tide/workers") : NULL;
	jobs = workers ? tc_tel_cmd(t->tel, "/tide/jobs") : NULL;
	if (!jobs) {
		snprintf(t->problem, sizeof(t->problem), "telemetry of pid %d lost: %s (the dataplane "
			"ended?); retrying", (int)tc_tel_pid(t->tel), strerror(errno));
		tc_tel_close(t->tel);
		t->tel = NULL;
		line(t, BOLD, "tidectl top - standalone tide-dataplane");
		line(t, WARN, "%s", t->problem);
		goto out;
	}
	char up[32];
	tc_fmt_duration((long long)(num(st, "uptime_ms") / 1000), up, sizeof(up));
	line(t, BOLD, "tidectl top - tide-dataplane pid %d (tide %s, %s)  state %s  up %s  "
		"%d worker(s)  refresh %.1fs", (int)tc_tel_pid(t->tel), tc_jstr(st, "version"),
		tc_tel_version(t->tel), tc_jstr(st, "state"), up, (int)num(st, "workers"), t->interval);
	double rx = rate(t, "stats", "received", num(st, "received"));
	double rxb = rate(t, "stats", "rx_bytes", num(st, "rx_bytes"));
	double wr = rate(t, "stats", "written", num(st, "written"));
	double wb = rate(t, "stats", "bytes_written", num(st, "bytes_written"));
	char e[24], f[24];
	line(t, PLAIN, "Total   rx %s pkt/s %sbit/s   matched %s pkt/s   written %s pkt/s "
		"%sB/s   received %s", cnt(rx, a, sizeof(a)), cnt(rxb * 8, b, sizeof(b)),
		cnt(rate(t, "stats", "matched", num(st, "matched")), c2, sizeof(c2)),
		cnt(wr, d, sizeof(d)), cnt(wb, e, sizeof(e)), cnt(num(st, "received"), f, sizeof(f)));
	/* drops by reason and the parser's mix: every dropped_* and parse_* member */
	char dl[512] = "", pl[512] = "";
	size_t dn = 0, pn = 0;
	double drop_rate = 0;
	const char *k;
	json_t *v;
	json_object_foreach(st, k, v) {
		if (strncmp(k, "dropped_", 8) == 0 && dn < sizeof(dl)) {
			double r = rate(t, "stats", k, json_number_value(v));
			drop_rate += r;
			int w = snprintf(dl + dn, sizeof(dl) - dn, "  %s %s (%s/s)", k + 8,
				cnt(json_number_value(v), a, sizeof(a)), cnt(r, b, sizeof(b)));
			dn += w > 0 ? (size_t)w : 0;
		} else if (strncmp(k, "parse_", 6) == 0 && pn < sizeof(pl)) {
			int w = snprintf(pl + pn, sizeof(pl) - pn, "  %s %s", k + 6,
				cnt(json_number_value(v), a, sizeof(a)));
			pn += w > 0 ? (size_t)w : 0;
		}
	}
	line(t, drop_rate > 0 ? WARN : PLAIN, "Drops   %s pkt/s:%s", cnt(drop_rate, a, sizeof(a)), dl);
	line(t, PLAIN, "Parse  %s", pl);
	line(t, PLAIN, "");

	line(t, HEADER, "%-18s %5s %4s %9s %10s %10s %9s %9s  %s", "LINK", "PORT", "RXQ", "PKT/S",
		"BIT/S", "RECEIVED", "IMISSED", "NOMBUF", "QUEUES PKT/S");
	json_object_foreach(links, k, v) {
		char qs[256] = "";
		size_t qn = 0;
		for (int q = 0; q < 64; q++) {
			char qk[32];
			snprintf(qk, sizeof(qk), "q%d_packets", q);
			json_t *qv = json_object_get(v, qk);
			if (!qv)
				break;
			int w = snprintf(qs + qn, sizeof(qs) - qn, "%sq%d %s", q ? " " : "", q,
				cnt(rate(t, k, qk, json_number_value(qv)), a, sizeof(a)));
			if (w < 0 || (size_t)w >= sizeof(qs) - qn)
				break;
			qn += (size_t)w;
		}
		line(t, PLAIN, "%-18.18s %5d %4d %9s %10s %10s %9s %9s  %s", k, (int)num(v, "port_id"),
			(int)num(v, "rx_queues"), cnt(rate(t, k, "received", num(v, "received")), a, sizeof(a)),
			cnt(rate(t, k, "rx_bytes", num(v, "rx_bytes")) * 8, b, sizeof(b)),
			cnt(num(v, "received"), c2, sizeof(c2)),
			cnt(num(v, "dropped_nic_imissed"), d, sizeof(d)),
			cnt(num(v, "dropped_mbuf_alloc"), up, sizeof(up)), qs);
	}
	line(t, PLAIN, "");
	line(t, HEADER, "%-7s %5s %4s %9s %10s %6s %7s %9s %9s %10s", "WORKER", "LCORE", "RXQ",
		"PKT/S", "BIT/S", "BUSY", "RING", "SESSIONS", "NEW/S", "RING-DROP");
	double sess_total = 0;
	json_object_foreach(workers, k, v) {
		char ring[24] = "-", sess[24] = "-", nw[24] = "-", wk[32];
		snprintf(wk, sizeof(wk), "w%s", k);
		if (json_object_get(v, "ring_used"))
			snprintf(ring, sizeof(ring), "%d", (int)num(v, "ring_used"));
		if (json_object_get(v, "sessions_active")) {
			cnt(num(v, "sessions_active"), sess, sizeof(sess));
			cnt(rate(t, wk, "created", num(v, "sessions_created")), nw, sizeof(nw));
			sess_total += num(v, "sessions_active");
		}
		line(t, PLAIN, "%-7s %5d %4d %9s %10s %5.1f%% %7s %9s %9s %10s", k,
			(int)num(v, "lcore"), (int)num(v, "rx_queues"),
			cnt(rate(t, wk, "rx", num(v, "rx_packets")), a, sizeof(a)),
			cnt(rate(t, wk, "rxb", num(v, "rx_bytes")) * 8, b, sizeof(b)),
			num(v, "busy_permille") / 10.0, ring, sess, nw,
			cnt(num(v, "dropped_ring_full"), c2, sizeof(c2)));
	}
	/* session outcomes summed over workers: how the classification side is doing */
	static const char *const sk[] = { "created", "expired", "closed", "evicted", "flushed",
		"table_full", NULL };
	char sl[512] = "";
	size_t sn = 0;
	for (int i = 0; sk[i]; i++) {
		char key[48];
		double sum = 0;
		snprintf(key, sizeof(key), "sessions_%s", sk[i]);
		json_object_foreach(workers, k, v)
			sum += num(v, key);
		int w = snprintf(sl + sn, sizeof(sl) - sn, "  %s %s", sk[i], cnt(sum, a, sizeof(a)));
		sn += w > 0 && (size_t)w < sizeof(sl) - sn ? (size_t)w : 0;
	}
	if (json_object_get(json_object_iter_value(json_object_iter(workers)), "sessions_active"))
		line(t, PLAIN, "Sessions active %s:%s", cnt(sess_total, a, sizeof(a)), sl);
	else
		line(t, PLAIN, "Sessions: not tracked (the capture runs without --classify/--flows)");
	line(t, PLAIN, "");
	line(t, HEADER, "%-16s %10s %10s %10s %10s %10s  %s", "JOB", "MATCH/S", "WRITE/S", "BYTE/S",
		"WRITTEN", "DROPS", "FILTER");
	json_object_foreach(jobs, k, v) {
		double drops = 0;
		const char *dk;
		json_t *dv;
		json_object_foreach(v, dk, dv)
			if (strncmp(dk, "dropped_", 8) == 0)
				drops += json_number_value(dv);
		line(t, PLAIN, "%-16.16s %10s %10s %10s %10s %10s  %s", k,
			cnt(rate(t, k, "matched", num(v, "matched")), a, sizeof(a)),
			cnt(rate(t, k, "written", num(v, "written")), b, sizeof(b)),
			cnt(rate(t, k, "bytes_written", num(v, "bytes_written")), c2, sizeof(c2)),
			cnt(num(v, "written"), d, sizeof(d)), cnt(drops, up, sizeof(up)),
			*tc_jstr(v, "filter") ? tc_jstr(v, "filter") : "(every packet)");
	}
out:
	json_decref(st);
	json_decref(links);
	json_decref(workers);
	json_decref(jobs);
}

/* ---- from the Hive: REST ------------------------------------------------------------------ */

static void
hive_links(struct top *t, const json_t *links)
{
	char a[24], b[24], c2[24];
	line(t, HEADER, "%-24s %-8s %6s %10s %10s %9s  %s", "LINK", "STATE", "JOB", "PKT/S", "BIT/S",
		"DROPS", "DROPS BY REASON");
	size_t i;
	json_t *l;
	json_array_foreach((json_t *)links, i, l) {
		json_t *ct = json_object_get(l, "counters");
		char name[128], job[24] = "-", why[256] = "";
		size_t wn = 0;
		snprintf(name, sizeof(name), "%s/%s", tc_jstr(l, "drone"), tc_jstr(l, "name"));
		if (json_is_integer(json_object_get(l, "job")))
			snprintf(job, sizeof(job), "%lld", tc_jint(l, "job"));
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(ct, "drops_by_reason"), k, v) {
			if (json_number_value(v) <= 0)
				continue;
			int w = snprintf(why + wn, sizeof(why) - wn, "%s%s %s", wn ? " " : "", k,
				cnt(json_number_value(v), a, sizeof(a)));
			wn += w > 0 && (size_t)w < sizeof(why) - wn ? (size_t)w : 0;
		}
		line(t, PLAIN, "%-24.24s %-8s %6s %10s %10s %9s  %s", name, tc_jstr(l, "state"), job,
			ct ? cnt(num(ct, "pps"), a, sizeof(a)) : "-",
			ct ? cnt(num(ct, "bps"), b, sizeof(b)) : "-",
			ct ? cnt(num(ct, "drops"), c2, sizeof(c2)) : "-", why);
	}
}

static void
hive_frame(struct top *t)
{
	struct tc_ctx *c = t->c;
	json_t *drones = NULL, *links = NULL, *jobs = NULL;
	char a[24], b[24], c2[24], d[24], e[24];
	int status = 0;
	int rc = tc_api_quiet(c, "GET", "/api/v1/drones", NULL, &drones, &status);
	bool have_drones = rc == 0;
	if (rc && status != 404) {
		line(t, BOLD, "tidectl top - tide-control %s", c->server);
		line(t, WARN, "cannot read %s: %s", c->server, status ? "HTTP error (token? permission?)"
			: "unreachable; retrying");
		return;
	}
	if (!have_drones)
		tc_api_quiet(c, "GET", "/api/v1/links", NULL, &links, &status);
	tc_api_quiet(c, "GET", "/api/v1/jobs?limit=50", NULL, &jobs, &status);
	size_t i, n_on = 0, n_run = 0;
	json_t *x;
	json_array_foreach(json_object_get(drones, "items"), i, x)
		n_on += strcmp(tc_jstr(x, "state"), "online") == 0;
	json_array_foreach(json_object_get(jobs, "items"), i, x)
		n_run += strcmp(tc_jstr(x, "state"), "running") == 0;
	line(t, BOLD, "tidectl top - tide-control %s  %zu drone(s), %zu online  %zu running job(s)  "
		"refresh %.1fs", c->server, have_drones ? json_array_size(json_object_get(drones, "items"))
		: 1, have_drones ? n_on : 1, n_run, t->interval);
	if (have_drones) {
		line(t, HEADER, "%-16s %-8s %5s %5s %14s %6s  %s", "DRONE", "STATE", "CORES", "NUMA",
			"HUGEPAGES", "LINKS", "TUNING");
		json_array_foreach(json_object_get(drones, "items"), i, x) {
			json_t *h = json_object_get(x, "host"), *tn = json_object_get(x, "tuning");
			char hp[32];
			snprintf(hp, sizeof(hp), "%lld/%lld", tc_jint(h, "hugepages_free"),
				tc_jint(h, "hugepages_total"));
			char tl[256] = "";
			size_t tn_n = 0;
			const char *k;
			json_t *v;
			json_object_foreach(tn, k, v) {
				char s[32];
				tc_jtext(v, s, sizeof(s));
				int w = snprintf(tl + tn_n, sizeof(tl) - tn_n, "%s%s=%s", tn_n ? " " : "", k, s);
				tn_n += w > 0 && (size_t)w < sizeof(tl) - tn_n ? (size_t)w : 0;
			}
			line(t, PLAIN, "%-16.16s %-8s %5lld %5lld %14s %6zu  %s", tc_jstr(x, "name"),
				tc_jstr(x, "state"), tc_jint(h, "cores"), tc_jint(h, "numa_nodes"), hp,
				json_array_size(json_object_get(x, "links")), tn_n ? tl : "defaults");
		}
		line(t, PLAIN, "");
		json_t *all = json_array();
		json_array_foreach(json_object_get(drones, "items"), i, x)
			json_array_extend(all, json_object_get(x, "links"));
		hive_links(t, all);
		json_decref(all);
	} else {
		line(t, PLAIN, "(this tide-control has only its local drone; no per-drone view)");
		hive_links(t, json_object_get(links, "items"));
	}
	line(t, PLAIN, "");
	line(t, HEADER, "%-5s %-16s %-10s %-20s %10s %9s %10s %9s %8s %5s", "JOB", "NAME", "STATE",
		"LINKS", "PACKETS", "PKT/S", "BYTES", "BYTE/S", "DROPS", "DONE");
	int shown = 0;
	json_array_foreach(json_object_get(jobs, "items"), i, x) {
		const char *state = tc_jstr(x, "state");
		bool active = !tide_job_state_ended(state);
		if (!active && shown >= 8)
			continue;
		if (++shown > 30)
			break;
		json_t *ct = json_object_get(x, "counters"), *pr = json_object_get(x, "progress");
		char id[24], ln[128];
		snprintf(id, sizeof(id), "%lld", tc_jint(x, "id"));
		json_t *ls = json_object_get(x, "links");
		if (json_array_size(ls) > 1)
			snprintf(ln, sizeof(ln), "%s/%s +%zu", tc_jstr(json_array_get(ls, 0), "drone"),
				tc_jstr(json_array_get(ls, 0), "link"), json_array_size(ls) - 1);
		else
			snprintf(ln, sizeof(ln), "%s/%s", tc_jstr(x, "drone"), tc_jstr(x, "link"));
		double pk = json_object_get(ct, "packets") ? num(ct, "packets") : num(ct, "written");
		double by = json_object_get(ct, "bytes") ? num(ct, "bytes") : num(ct, "bytes_written");
		double dr = num(ct, "drops");
		json_t *dd = json_object_get(ct, "dropped");
		if (!json_object_get(ct, "drops") && json_is_object(dd)) {
			const char *k;
			json_t *v;
			json_object_foreach(dd, k, v)
				dr += json_number_value(v);
		}
		double frac = -1;
		if (json_is_object(pr)) {
			frac = 0;
			if (num(pr, "max_size") > 0)
				frac = num(pr, "bytes") / num(pr, "max_size");
			if (num(pr, "max_duration") > 0 && num(pr, "elapsed") / num(pr, "max_duration") > frac)
				frac = num(pr, "elapsed") / num(pr, "max_duration");
		} else if (!active) {
			frac = 1;
		}
		char done[16] = "-";
		if (frac >= 0)
			snprintf(done, sizeof(done), "%3.0f%%", fmin(frac, 1) * 100);
		line(t, active ? BOLD : PLAIN, "%-5s %-16.16s %-10s %-20.20s %10s %9s %10s %9s %8s %5s",
			id, tc_jstr(x, "name"), state, ln, cnt(pk, a, sizeof(a)),
			cnt(rate(t, id, "pk", pk), b, sizeof(b)), cnt(by, c2, sizeof(c2)),
			cnt(rate(t, id, "by", by), d, sizeof(d)), cnt(dr, e, sizeof(e)), done);
	}
	/* classification mix of the running classified jobs (GET /jobs/{id}/apps) */
	int mixes = 0;
	json_array_foreach(json_object_get(jobs, "items"), i, x) {
		if (mixes >= 3 || strcmp(tc_jstr(x, "state"), "running") ||
			!json_is_true(json_object_get(x, "classify")))
			continue;
		char path[64], mix[400] = "";
		size_t mn = 0;
		json_t *apps = NULL, *ap;
		size_t j;
		snprintf(path, sizeof(path), "/api/v1/jobs/%lld/apps", tc_jint(x, "id"));
		if (tc_api_quiet(c, "GET", path, NULL, &apps, &status) != 0)
			continue;
		double total = 0;
		json_array_foreach(json_object_get(apps, "items"), j, ap)
			total += num(ap, "bytes");
		json_array_foreach(json_object_get(apps, "items"), j, ap) {
			if (j >= 8)
				break;
			int w = snprintf(mix + mn, sizeof(mix) - mn, "  %s %.0f%%", tc_jstr(ap, "app"),
				total > 0 ? 100 * num(ap, "bytes") / total : 0);
			mn += w > 0 && (size_t)w < sizeof(mix) - mn ? (size_t)w : 0;
		}
		if (!mixes++)
			line(t, PLAIN, "");
		line(t, PLAIN, "Apps of job %lld:%s", tc_jint(x, "id"), mn ? mix : "  (no flows yet)");
		json_decref(apps);
	}
	json_decref(drones);
	json_decref(links);
	json_decref(jobs);
}

/* ---- screen ------------------------------------------------------------------------------ */

static void
screen_size(struct top *t)
{
	struct winsize ws;
	t->rows = 24;
	t->cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	}
}

static void
render(struct top *t)
{
	if (!t->interactive) {
		for (int i = 0; i < t->nlines; i++)
			printf("%s\n", t->lines[i].text);
		printf("\n");
		fflush(stdout);
		return;
	}
	static const char *const on[] = { "", "\033[1m", "\033[7m", "\033[1;31m" };
	fputs("\033[H", stdout);
	int max = t->rows - 1;
	for (int i = 0; i < t->nlines && i < max; i++) {
		int w = (int)strlen(t->lines[i].text);
		if (w > t->cols)
			w = t->cols;
		if (t->lines[i].style == HEADER)
			printf("%s%-*.*s\033[0m\033[K\n", on[HEADER], t->cols, w, t->lines[i].text);
		else
			printf("%s%.*s\033[0m\033[K\n", on[t->lines[i].style], w, t->lines[i].text);
	}
	printf("\033[J\033[%d;1H\033[7m%-*.*s\033[0m", t->rows, t->cols, t->cols,
		" q quit   space refresh   + / - interval");
	fflush(stdout);
}

static struct termios saved_tio;
static bool tio_saved;

static void
term_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
}

static void
term_setup(void)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios raw = saved_tio;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		tio_saved = true;
	}
	fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
	fflush(stdout);
}

/* Waits up to the interval for a key. Returns false to quit. */
static bool
wait_key(struct top *t)
{
	double end = tc_now() + t->interval;
	for (int spins = 0; spins < 10000; spins++) {
		double left = end - tc_now();
		if (left <= 0 || stop_flag)
			break;
		if (!tio_saved) {
			struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
			nanosleep(&ts, NULL);
			continue;
		}
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (winch_flag) {
			winch_flag = 0;
			screen_size(t);
			fputs("\033[2J", stdout);
			return true;
		}
		if (r <= 0)
			continue;
		char ch;
		if (read(STDIN_FILENO, &ch, 1) != 1)
			return false; /* the terminal went away */
		switch (ch) {
		case 'q': case 'Q': case 3: case 4: return false;
		case ' ': case 'r': return true;
		case '+': t->interval = fmin(t->interval * 2, 60); return true;
		case '-': t->interval = fmax(t->interval / 2, 0.25); return true;
		default: break;
		}
	}
	return !stop_flag;
}

/* ---- the command ------------------------------------------------------------------------- */

enum { O_INTERVAL = 1, O_ITER, O_TEL, O_HIVE, O_BATCH };

static const struct option top_opts[] = {
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ "iterations", required_argument, NULL, O_ITER },
	{ "telemetry", required_argument, NULL, O_TEL },
	{ "hive", no_argument, NULL, O_HIVE },
	{ "batch", no_argument, NULL, O_BATCH },
	{ NULL, 0, NULL, 0 },
};

static int
top_opt(void *arg, int opt, const char *v)
{
	struct top *t = arg;
	switch (opt) {
	case 'd': case O_INTERVAL:
		t->interval = atof(v);
		if (!(t->interval >= 0.1 && t->interval <= 60))
			return tc_usage_error(t->cmd, "--interval: 0.1 to 60 seconds");
		break;
	case 'n': case O_ITER:
		t->iterations = atoll(v);
		if (t->iterations < 1 || t->iterations > MAX_FRAMES)
			return tc_usage_error(t->cmd, "--iterations: 1 to %lld", MAX_FRAMES);
		break;
	case 'T': case O_TEL: t->tel_arg = v; break;
	case O_HIVE: t->hive = true; break;
	case 'b': case O_BATCH: t->interactive = false; break;
	default: return TC_USAGE;
	}
	return 0;
}

static int
cmd_top(struct tc_ctx *c, int argc, char **argv)
{
	static struct top t; /* large (rate table, lines): not on the stack */
	memset(&t, 0, sizeof(t));
	t.c = c;
	t.cmd = &tc_top_cmds[0];
	t.interval = 1.0;
	t.interactive = isatty(STDOUT_FILENO);
	int first, rc = tc_parse(c, t.cmd, argc, argv, "d:n:T:b", top_opts, top_opt, &t, &first);
	if (rc >= 0)
		return rc;
	if (first < argc)
		return tc_usage_error(t.cmd, "unexpected argument '%s'", argv[first]);
	if (t.hive && t.tel_arg)
		return tc_usage_error(t.cmd, "--hive or --telemetry, not both");
	if (!t.hive && !t.tel_arg) {
		/* the Hive when a token is at hand, else a local dataplane */
		const char *tok = c->opt_token ? c->opt_token : getenv("TIDE_TOKEN");
		t.hive = (tok && *tok) || c->opt_server || getenv("TIDE_SERVER") ||
			(c->opt_config != NULL);
		if (!t.hive) {
			char path[512];
			t.hive = tc_tel_discover(path, sizeof(path)) < 0 && tc_ctx_ready(c, true) == 0;
			if (!t.hive)
				t.tel_arg = "auto";
		}
	}
	if (t.hive && (rc = tc_ctx_ready(c, true)))
		return rc;
	if (!t.iterations)
		t.iterations = t.interactive ? MAX_FRAMES : 1;
	if (!t.interactive && !t.hive && !tel_connect(&t)) {
		tc_err("%s", t.problem);
		return TC_UNREACHABLE;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	screen_size(&t);
	if (t.interactive)
		term_setup();
	for (long long frame = 0; frame < t.iterations && !stop_flag; frame++) {
		t.nlines = 0;
		if (t.hive)
			hive_frame(&t);
		else
			tel_frame(&t);
		render(&t);
		if (frame + 1 >= t.iterations)
			break;
		if (t.interactive) {
			if (!wait_key(&t))
				break;
		} else {
			struct timespec ts = { (time_t)t.interval,
				(long)((t.interval - (double)(time_t)t.interval) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	if (t.interactive)
		term_restore();
	tc_tel_close(t.tel);
	return 0;
}

const struct tc_cmd tc_top_cmds[] = {
	{ "top", "[--telemetry PATH|PREFIX|auto] [--hive] [-d SECS] [-n FRAMES] [-b]",
		"A live view of drones, links, worker cores and jobs: packets/s, bits/s, drops by\n"
		"reason, ring occupancy, sessions, classification mix. On a terminal: q quits, space\n"
		"refreshes, + and - change the interval.\n\n"
		"  --hive                from tide-control's REST API (every drone; the default\n"
		"                        when a token is configured)\n"
		"  -T, --telemetry WHERE straight from a standalone tide-dataplane's DPDK telemetry:\n"
		"                        a socket path, a file prefix (tide-1234), or auto (the\n"
		"                        newest live /var/run/dpdk/tide-*/dpdk_telemetry.v2)\n"
		"  -d, --interval SECS   refresh interval (default 1)\n"
		"  -n, --iterations N    stop after N frames (default: until q; 1 when not a terminal)\n"
		"  -b, --batch           plain frames one after another, no screen control\n",
		cmd_top },
	{ NULL, NULL, NULL, NULL },
};
