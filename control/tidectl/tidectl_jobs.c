/* tidectl_jobs.c — `tidectl jobs ...` and `tidectl files list`: create (every option of the
 * web console's form, the filter and the application names checked by POST /jobs/validate
 * before the job is submitted), list, show (printed by tidectl_jobs_show.c), wait (polls until
 * a state, a progress bar on a terminal), stop, cancel, delete, the dataset's file listing,
 * the script log and the classification mix.
 *
 * Jobs on several links are sent as "links": ["drone/link", ...]; a single link of the local
 * drone as the older "link": "demo", which every tide-control version takes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tide_export.h"
#include "tide_job.h"
#include "tidectl.h"
#include "tidectl_out.h"
#include "tide_units.h"

#define MAX_LINKS 64
#define MAX_SCRIPT 65536

extern const struct tc_cmd tc_jobs_cmds[];

static const char *const terminal_states[] = { "done", "partial", "failed", "cancelled",
	NULL };

static bool
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static bool
is_terminal(const char *state)
{
	return in_list(state, terminal_states);
}

/* Packets and bytes captured: the multi-link counters, or the local drone's manifest ones. */
static void
job_counts(const json_t *job, long long *pkts, long long *bytes)
{
	json_t *ct = json_object_get(job, "counters");
	*pkts = json_object_get(ct, "packets") ? tc_jint(ct, "packets") : tc_jint(ct, "written");
	*bytes = json_object_get(ct, "bytes") ? tc_jint(ct, "bytes") : tc_jint(ct, "bytes_written");
}

static int
parse_id(const struct tc_cmd *cmd, int argc, char **argv, int first, long long *id)
{
	if (first >= argc)
		return tc_usage_error(cmd, "a job id is needed");
	if (!(*id = tc_id(argv[first])))
		return tc_usage_error(cmd, "'%s' is not a job id", argv[first]);
	return 0;
}

static int
get_job(struct tc_ctx *c, long long id, json_t **job)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld", id);
	return tc_api(c, "GET", path, NULL, job);
}

/* ---- jobs create ------------------------------------------------------------------------- */

struct create {
	const struct tc_cmd *cmd;
	const char *name, *description, *filter, *group, *script, *session_type, *export;
	const char *links[MAX_LINKS];
	int nlinks;
	uint64_t max_size, max_duration, script_timeout, lookback, shard_size, shard_time;
	long long snaplen, max_packets;
	bool anonymise, classify, check_only, no_check, wait;
	char apps[TIDE_JOB_APPS_MAX + 1];  /* canonical (tide_job_apps_parse); "" none */
	const char *apps_undecided;
	long long apps_packets, apps_wait; /* -1: not given (the contract's default) */
	const char *wait_state;
};

enum { O_NAME = 1, O_DESC, O_LINK, O_FILTER, O_MAXSIZE, O_MAXDUR, O_SNAPLEN, O_ANON, O_CLASSIFY,
	O_SESSTYPE, O_GROUP, O_SCRIPT, O_SCRIPT_TO, O_CHECK, O_NOCHECK, O_WAIT, O_STATE, O_INTERVAL,
	O_LIMIT, O_OFFSET, O_ALL, O_WTIMEOUT, O_LOOKBACK, O_MAXPKTS,
	O_SHARDSIZE, O_SHARDTIME, O_EXPORT, O_APPS, O_APPS_UNDECIDED, O_APPS_PACKETS, O_APPS_WAIT };

static const struct option create_opts[] = {
	{ "name", required_argument, NULL, O_NAME },
	{ "description", required_argument, NULL, O_DESC },
	{ "link", required_argument, NULL, O_LINK },
	{ "filter", required_argument, NULL, O_FILTER },
	{ "max-size", required_argument, NULL, O_MAXSIZE },
	{ "max-duration", required_argument, NULL, O_MAXDUR },
	{ "snaplen", required_argument, NULL, O_SNAPLEN },
	{ "lookback", required_argument, NULL, O_LOOKBACK },
	{ "max-packets", required_argument, NULL, O_MAXPKTS },
	{ "shard-size", required_argument, NULL, O_SHARDSIZE },
	{ "shard-time", required_argument, NULL, O_SHARDTIME },
	{ "anonymise", no_argument, NULL, O_ANON },
	{ "anonymize", no_argument, NULL, O_ANON },
	{ "classify", no_argument, NULL, O_CLASSIFY },
	{ "session-type", required_argument, NULL, O_SESSTYPE },
	{ "export", required_argument, NULL, O_EXPORT },
	{ "apps", required_argument, NULL, O_APPS },
	{ "apps-undecided", required_argument, NULL, O_APPS_UNDECIDED },
	{ "apps-packets", required_argument, NULL, O_APPS_PACKETS },
	{ "apps-wait", required_argument, NULL, O_APPS_WAIT },
	{ "group", required_argument, NULL, O_GROUP },
	{ "script", required_argument, NULL, O_SCRIPT },
	{ "script-timeout", required_argument, NULL, O_SCRIPT_TO },
	{ "check-only", no_argument, NULL, O_CHECK },
	{ "no-check", no_argument, NULL, O_NOCHECK },
	{ "wait", no_argument, NULL, O_WAIT },
	{ NULL, 0, NULL, 0 },
};

static int
create_opt(void *arg, int opt, const char *v)
{
	struct create *o = arg;
	switch (opt) {
	case 'n': case O_NAME: o->name = v; break;
	case 'd': case O_DESC: o->description = v; break;
	case 'l': case O_LINK:
		if (o->nlinks == MAX_LINKS)
			return tc_usage_error(o->cmd, "at most %d links", MAX_LINKS);
		o->links[o->nlinks++] = v;
		break;
	case 'f': case O_FILTER: o->filter = v; break;
	case 's': case O_MAXSIZE:
		if (tide_parse_size(v, &o->max_size) < 0)
			return tc_usage_error(o->cmd, "--max-size '%s': a size like 512M, 10G", v);
		break;
	case 't': case O_MAXDUR:
		if (tide_parse_duration(v, &o->max_duration) < 0 || o->max_duration == 0)
			return tc_usage_error(o->cmd, "--max-duration '%s': a duration like 90s, 1h30m, 1d", v);
		break;
	case O_SNAPLEN: { /* bounds: the job contract's, checked with the whole job below */
		uint64_t s;
		if (tide_parse_size(v, &s) < 0 || s > INT32_MAX)
			return tc_usage_error(o->cmd, "--snaplen '%s': a number of bytes", v);
		o->snaplen = (long long)s;
		break;
	}
	case O_LOOKBACK:
		if (tide_parse_duration(v, &o->lookback) < 0)
			return tc_usage_error(o->cmd, "--lookback '%s': a duration like 30s, 5m", v);
		break;
	case O_MAXPKTS: {
		char *end;
		errno = 0;
		o->max_packets = strtoll(v, &end, 10);
		if (errno || end == v || *end || o->max_packets < 0)
			return tc_usage_error(o->cmd, "--max-packets '%s': a number of packets", v);
		break;
	}
	case O_SHARDSIZE:
		if (tide_parse_size(v, &o->shard_size) < 0)
			return tc_usage_error(o->cmd, "--shard-size '%s': a size like 64M, 1G", v);
		break;
	case O_SHARDTIME:
		if (tide_parse_duration(v, &o->shard_time) < 0)
			return tc_usage_error(o->cmd, "--shard-time '%s': a duration like 30s, 5m", v);
		break;
	case O_ANON: o->anonymise = true; break;
	case O_CLASSIFY: o->classify = true; break;
	case O_SESSTYPE:
		if (strcmp(v, "flow") && strcmp(v, "biflow") && strcmp(v, "host"))
			return tc_usage_error(o->cmd, "--session-type: flow, biflow or host");
		o->session_type = v;
		o->classify = true;
		break;
	case O_EXPORT: {
		/* the grammar every program shares (tide_export.h): a typo stops here, exit 2 */
		struct tide_export_target t;
		char why[512];
		if (tide_export_parse(v, &t, why, sizeof(why)) != 0)
			return tc_usage_error(o->cmd, "--export: %s", why);
		o->export = v;
		break;
	}
	case O_APPS: {
		/* the one list grammar (tide_job.h): a typo stops here, exit 2; whether each name is
		 * known is the server's to say (the drone's classifier tables) */
		char why[256];
		if (tide_job_apps_parse(v, o->apps, sizeof(o->apps), why, sizeof(why)) != 0)
			return tc_usage_error(o->cmd, "--apps: %s", why);
		if (o->apps[0])
			o->classify = true;
		break;
	}
	case O_APPS_UNDECIDED: o->apps_undecided = v; break; /* keep | drop: the contract's check */
	case O_APPS_PACKETS: {
		char *end;
		errno = 0;
		o->apps_packets = strtoll(v, &end, 10);
		if (errno || end == v || *end || o->apps_packets < 0)
			return tc_usage_error(o->cmd, "--apps-packets '%s': a number of packets", v);
		break;
	}
	case O_APPS_WAIT: {
		uint64_t w;
		if (tide_parse_duration(v, &w) < 0 || w > INT32_MAX)
			return tc_usage_error(o->cmd, "--apps-wait '%s': a duration like 5s, 1m", v);
		o->apps_wait = (long long)w;
		break;
	}
	case 'g': case O_GROUP: o->group = v; break;
	case O_SCRIPT: o->script = v; break;
	case O_SCRIPT_TO:
		if (tide_parse_duration(v, &o->script_timeout) < 0 || o->script_timeout == 0)
			return tc_usage_error(o->cmd, "--script-timeout '%s': a duration (1s-1h)", v);
		break;
	case O_CHECK: o->check_only = true; break;
	case O_NOCHECK: o->no_check = true; break;
	case 'w': case O_WAIT: o->wait = true; break;
	default: return TC_USAGE;
	}
	return 0;
}

static int
read_script(const char *path, json_t **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		tc_err("cannot read the script %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return TC_USAGE;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > MAX_SCRIPT) {
		tc_err("the script %s must be a file of 1 to %d bytes", path, MAX_SCRIPT);
		close(fd);
		return TC_USAGE;
	}
	char *buf = malloc((size_t)st.st_size);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		tc_err("cannot read the script %s", path);
		free(buf);
		return TC_ERR;
	}
	*out = json_stringn(buf, (size_t)n);
	free(buf);
	if (!*out) {
		tc_err("the script %s is not UTF-8 text", path);
		return TC_USAGE;
	}
	return 0;
}

static int wait_job(struct tc_ctx *c, long long id, const char *target, long long timeout,
	double interval, json_t **final);

/* The filter and the application names, checked by the server's drone binary in one go
 * (POST /jobs/validate): a bad filter exits 7 with libpcap's message, an unknown name 7 with
 * the drone's. apps_json is the body's "apps" or NULL. */
static int
check_filter(struct tc_ctx *c, const char *filter, json_t *apps_json)
{
	json_t *body = json_object();
	if (filter && *filter)
		json_object_set_new(body, "filter", json_string(filter));
	if (apps_json)
		json_object_set(body, "apps", apps_json);
	int rc = tc_api(c, "POST", "/api/v1/jobs/validate", body, NULL);
	json_decref(body);
	return rc;
}

/* The job contract's check of the body's capture parameters: 0, or a usage error naming the
 * field as the server would. */
static int
check_params(const struct tc_cmd *cmd, const json_t *body)
{
	json_t *params = json_object();
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
		if (tide_job_is_field(key))
			json_object_set(params, key, v);
	struct tide_job job;
	struct tide_job_error err;
	int rc = tide_job_from_json(params, &job, &err);
	json_decref(params);
	return rc ? tc_usage_error(cmd, "'%s' %s", err.field, err.why) : 0;
}

static int
cmd_create(struct tc_ctx *c, int argc, char **argv)
{
	struct create o = { .cmd = &tc_jobs_cmds[0], .snaplen = -1, .apps_packets = -1,
		.apps_wait = -1 };
	int first, rc = tc_parse(c, o.cmd, argc, argv, "n:d:l:f:s:t:g:w", create_opts, create_opt,
		&o, &first);
	if (rc >= 0)
		return rc;
	if (first < argc && !o.name)
		o.name = argv[first++];
	if (first < argc)
		return tc_usage_error(o.cmd, "unexpected argument '%s'", argv[first]);
	if (!o.name || !o.max_size || !o.max_duration)
		return tc_usage_error(o.cmd, "--name, --max-size and --max-duration are required");

	json_t *body = json_pack("{s:s, s:I, s:I}", "name", o.name, "max_size",
		(json_int_t)o.max_size, "max_duration", (json_int_t)o.max_duration);
	if (!body)
		return tc_usage_error(o.cmd, "--name must be UTF-8 text");
	if (o.description)
		json_object_set_new(body, "description", json_string(o.description));
	if (o.filter)
		json_object_set_new(body, "filter", json_string(o.filter));
	if (o.nlinks == 1 && !strchr(o.links[0], '/')) {
		json_object_set_new(body, "link", json_string(o.links[0]));
	} else if (o.nlinks == 1 && strncmp(o.links[0], "local/", 6) == 0) {
		json_object_set_new(body, "link", json_string(o.links[0] + 6));
	} else if (o.nlinks > 0) {
		json_t *a = json_array();
		for (int i = 0; i < o.nlinks; i++)
			json_array_append_new(a, json_string(o.links[i]));
		json_object_set_new(body, "links", a);
	}
	if (o.snaplen >= 0)
		json_object_set_new(body, "snaplen", json_integer(o.snaplen));
	if (o.lookback)
		json_object_set_new(body, "lookback_s", json_integer((json_int_t)o.lookback));
	if (o.max_packets)
		json_object_set_new(body, "max_packets", json_integer(o.max_packets));
	if (o.shard_size)
		json_object_set_new(body, "shard_size", json_integer((json_int_t)o.shard_size));
	if (o.shard_time)
		json_object_set_new(body, "shard_time", json_integer((json_int_t)o.shard_time));
	if (o.anonymise)
		json_object_set_new(body, "anonymise", json_true());
	if (o.classify)
		json_object_set_new(body, "classify", json_true());
	if (o.session_type)
		json_object_set_new(body, "session_type", json_string(o.session_type));
	if (o.export)
		json_object_set_new(body, "export", json_string(o.export));
	if (o.apps[0]) {
		json_t *a = json_array();
		char app[TIDE_JOB_APP_NAME_MAX + 1];
		for (const char *p = o.apps; (p = tide_job_apps_next(p, app, sizeof(app)));)
			json_array_append_new(a, json_string(app));
		json_object_set_new(body, "apps", a);
	}
	if (o.apps_undecided)
		json_object_set_new(body, "apps_undecided", json_string(o.apps_undecided));
	if (o.apps_packets >= 0)
		json_object_set_new(body, "apps_packets", json_integer(o.apps_packets));
	if (o.apps_wait >= 0)
		json_object_set_new(body, "apps_wait", json_integer(o.apps_wait));
	if (o.group)
		json_object_set_new(body, "group", json_string(o.group));
	if (o.script_timeout)
		json_object_set_new(body, "script_timeout", json_integer((json_int_t)o.script_timeout));
	if (o.script) {
		json_t *s = NULL;
		if ((rc = read_script(o.script, &s))) {
			json_decref(body);
			return rc;
		}
		json_object_set_new(body, "script", s);
	}

	/* the capture parameters by the job contract, as the Hive and the drone check them */
	if ((rc = check_params(o.cmd, body))) {
		json_decref(body);
		return rc;
	}
	/* the filter and the application names first, on their own: a typo is reported before
	 * anything is created */
	if (((o.filter && *o.filter) || o.apps[0]) && !o.no_check) {
		rc = check_filter(c, o.filter, json_object_get(body, "apps"));
		if (rc) {
			json_decref(body);
			return rc;
		}
		if (!c->quiet && !c->json && o.filter && *o.filter)
			fprintf(stderr, "filter ok: %s\n", o.filter);
		if (!c->quiet && !c->json && o.apps[0])
			fprintf(stderr, "applications ok: %s\n", o.apps);
	}
	if (o.check_only) {
		if (c->json)
			printf("{\"valid\": true}\n");
		json_decref(body);
		return 0;
	}
	json_t *job = NULL;
	rc = tc_api(c, "POST", "/api/v1/jobs", body, &job);
	json_decref(body);
	if (rc)
		return rc;
	long long id = tc_jint(job, "id");
	if (o.wait) {
		json_decref(job);
		job = NULL;
		if (!c->quiet && !c->json)
			fprintf(stderr, "created job %lld, waiting for it to end\n", id);
		rc = wait_job(c, id, "ended", 0, 1.0, &job);
	}
	if (c->json)
		tc_print_json(job);
	else if (c->quiet)
		printf("%lld\n", id);
	else if (o.wait)
		tc_show_job(c, job);
	else {
		char links[256];
		tc_job_links(job, links, sizeof(links));
		printf("created job %lld (%s) on %s\n", id, tc_jstr(job, "state"), links);
	}
	json_decref(job);
	return rc;
}

/* ---- jobs list / show -------------------------------------------------------------------- */

struct list {
	const struct tc_cmd *cmd;
	const char *state;
	long long limit, offset;
	bool all;
};

static const struct option list_opts[] = {
	{ "state", required_argument, NULL, O_STATE },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "offset", required_argument, NULL, O_OFFSET },
	{ "all", no_argument, NULL, O_ALL },
	{ NULL, 0, NULL, 0 },
};

static int
list_opt(void *arg, int opt, const char *v)
{
	struct list *o = arg;
	switch (opt) {
	case O_STATE: o->state = v; break;
	case 'n': case O_LIMIT:
		o->limit = tc_id(v);
		if (o->limit < 1 || o->limit > 1000)
			return tc_usage_error(o->cmd, "--limit: 1 to 1000");
		break;
	case O_OFFSET: o->offset = atoll(v); break;
	case 'a': case O_ALL: o->all = true; break;
	default: return TC_USAGE;
	}
	return 0;
}

static bool
state_matches(const char *state, const char *want)
{
	if (!want)
		return true;
	if (strcmp(want, "ended") == 0)
		return is_terminal(state);
	if (strcmp(want, "active") == 0)
		return !is_terminal(state);
	return strcmp(state, want) == 0;
}

static int
cmd_list(struct tc_ctx *c, int argc, char **argv)
{
	struct list o = { .cmd = &tc_jobs_cmds[1], .limit = 100 };
	int first, rc = tc_parse(c, o.cmd, argc, argv, "n:a", list_opts, list_opt, &o, &first);
	if (rc >= 0)
		return rc;
	if (first < argc)
		return tc_usage_error(o.cmd, "unexpected argument '%s'", argv[first]);
	json_t *all = json_array();
	/* --all pages through everything; bounded by 1000 pages of 1000 */
	for (int page = 0; page < (o.all ? 1000 : 1); page++) {
		char path[128];
		json_t *r = NULL;
		snprintf(path, sizeof(path), "/api/v1/jobs?limit=%lld&offset=%lld",
			o.all ? 1000 : o.limit, o.offset);
		if ((rc = tc_api(c, "GET", path, NULL, &r))) {
			json_decref(all);
			return rc;
		}
		json_t *items = json_object_get(r, "items");
		size_t i, n = json_array_size(items);
		json_t *j;
		json_array_foreach(items, i, j)
			if (state_matches(tc_jstr(j, "state"), o.state))
				json_array_append(all, j);
		json_decref(r);
		o.offset += (long long)n;
		if (n < 1000)
			break;
	}
	if (c->json) {
		json_t *w = json_pack("{s:o}", "items", all);
		tc_print_json(w);
		json_decref(w);
		return 0;
	}
	static const char *const hdr[] = { "ID", "NAME", "STATE", "LINKS", "OWNER", "CREATED",
		"PACKETS", "BYTES", "REASON", NULL };
	struct tc_table *t = tc_table_new(hdr);
	size_t i;
	json_t *j;
	json_array_foreach(all, i, j) {
		char id[24], links[256], created[32], pk[32], by[32];
		long long p, b;
		snprintf(id, sizeof(id), "%lld", tc_jint(j, "id"));
		tc_job_links(j, links, sizeof(links));
		tc_fmt_time(tc_jstr(j, "created_at"), created, sizeof(created));
		job_counts(j, &p, &b);
		snprintf(pk, sizeof(pk), "%lld", p);
		tc_fmt_bytes((uint64_t)b, by, sizeof(by));
		const char *cells[] = { id, tc_jstr(j, "name"), tc_jstr(j, "state"), links,
			tc_jstr(j, "owner"), created, pk, by, tc_jstr(j, "reason") };
		tc_table_add(t, cells);
	}
	tc_table_print(t, stdout);
	tc_table_free(t);
	json_decref(all);
	return 0;
}

static int
cmd_show(struct tc_ctx *c, int argc, char **argv)
{
	const struct tc_cmd *cmd = &tc_jobs_cmds[2];
	long long id;
	int first, rc = tc_parse(c, cmd, argc, argv, NULL, NULL, NULL, NULL, &first);
	if (rc >= 0)
		return rc;
	if ((rc = parse_id(cmd, argc, argv, first, &id)))
		return rc;
	json_t *job;
	if ((rc = get_job(c, id, &job)))
		return rc;
	if (c->json)
		tc_print_json(job);
	else
		tc_show_job(c, job);
	json_decref(job);
	return 0;
}

/* ---- jobs wait --------------------------------------------------------------------------- */

/* Whether state satisfies target; states move pending → running → finishing → processing →
 * done, so waiting for "running" is also satisfied by a job already past it. */
static bool
reached(const char *state, const char *target)
{
	static const char *const order[] = { "pending", "running", "finishing", "processing", "done",
		NULL };
	if (strcmp(target, "ended") == 0)
		return is_terminal(state);
	if (strcmp(target, state) == 0)
		return true;
	int ti = -1, si = -1;
	for (int i = 0; order[i]; i++) {
		if (strcmp(order[i], target) == 0)
			ti = i;
		if (strcmp(order[i], state) == 0)
			si = i;
	}
	return ti > 0 && si >= ti;
}

static void
wait_progress(struct tc_progress *p, const json_t *job)
{
	if (!p->on)
		return;
	const char *state = tc_jstr(job, "state");
	long long maxd = tc_jint(job, "max_duration"), maxs = tc_jint(job, "max_size");
	long long bytes = 0, el = 0;
	json_t *pr = json_object_get(job, "progress");
	if (json_is_object(pr)) {
		bytes = tc_jint(pr, "bytes");
		el = tc_jint(pr, "elapsed");
	} else {
		time_t st = tc_parse_iso(tc_jstr(job, "started_at"));
		if (st > 0)
			el = (long long)(time(NULL) - st);
		long long pk;
		job_counts(job, &pk, &bytes);
	}
	double frac = 0;
	if (maxd > 0)
		frac = (double)el / (double)maxd;
	if (maxs > 0 && (double)bytes / (double)maxs > frac)
		frac = (double)bytes / (double)maxs;
	if (is_terminal(state) || strcmp(state, "processing") == 0 || strcmp(state, "finishing") == 0)
		frac = 1;
	char e[32], m[32], b[32], text[128];
	tc_fmt_duration(el, e, sizeof(e));
	tc_fmt_duration(maxd, m, sizeof(m));
	tc_fmt_bytes((uint64_t)bytes, b, sizeof(b));
	snprintf(text, sizeof(text), "%s  %s/%s  %s", state, e, m, b);
	tc_progress_frac(p, frac, text);
}

static int
wait_job(struct tc_ctx *c, long long id, const char *target, long long timeout, double interval,
	json_t **final)
{
	struct tc_progress p;
	char label[32];
	snprintf(label, sizeof(label), "job %lld", id);
	tc_progress_start(&p, label, 0, 0, c->quiet || c->json);
	double deadline = tc_now() + (double)(timeout > 0 ? timeout : 7 * 86400);
	int unreachable = 0, rc;
	*final = NULL;
	for (;;) {
		json_t *job = NULL;
		char path[64];
		snprintf(path, sizeof(path), "/api/v1/jobs/%lld", id);
		int status;
		rc = tc_api_quiet(c, "GET", path, NULL, &job, &status);
		if (rc == TC_UNREACHABLE && ++unreachable < 10) {
			/* a restarting control plane: keep waiting, a few times */
		} else if (rc) {
			tc_progress_end(&p);
			return tc_api(c, "GET", path, NULL, final) ?: TC_ERR;
		} else {
			unreachable = 0;
			const char *state = tc_jstr(job, "state");
			wait_progress(&p, job);
			if (reached(state, target)) {
				tc_progress_end(&p);
				*final = job;
				return 0;
			}
			if (is_terminal(state)) {
				tc_progress_end(&p);
				tc_err("job %lld ended %s%s%s, not %s", id, state,
					*tc_jstr(job, "reason") ? ": " : "", tc_jstr(job, "reason"), target);
				*final = job;
				return TC_ENDED;
			}
			json_decref(job);
		}
		if (tc_now() + interval > deadline) {
			tc_progress_end(&p);
			tc_err("job %lld: not %s after %llds", id, target, timeout);
			get_job(c, id, final);
			return TC_TIMEOUT;
		}
		struct timespec ts = { (time_t)interval, (long)((interval - (long)interval) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

struct waitopts {
	const struct tc_cmd *cmd;
	const char *state;
	long long timeout;
	double interval;
};

static const struct option wait_opts[] = {
	{ "state", required_argument, NULL, O_STATE },
	{ "for", required_argument, NULL, O_WTIMEOUT },
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ NULL, 0, NULL, 0 },
};

static int
wait_opt(void *arg, int opt, const char *v)
{
	static const char *const ok[] = { "ended", "running", "finishing", "processing", "done",
		"partial", "failed", "cancelled", NULL };
	struct waitopts *o = arg;
	switch (opt) {
	case O_STATE:
		if (!in_list(v, ok))
			return tc_usage_error(o->cmd, "--state: ended, running, finishing, processing, "
				"done, failed or cancelled");
		o->state = v;
		break;
	case O_WTIMEOUT: {
		uint64_t t;
		if (tide_parse_duration(v, &t) < 0 || t == 0 || t > INT32_MAX)
			return tc_usage_error(o->cmd, "--for '%s': a duration like 90s, 10m", v);
		o->timeout = (long long)t;
		break;
	}
	case O_INTERVAL:
		o->interval = atof(v);
		if (o->interval < 0.1 || o->interval > 60)
			return tc_usage_error(o->cmd, "--interval: 0.1 to 60 seconds");
		break;
	default: return TC_USAGE;
	}
	return 0;
}

static int
cmd_wait(struct tc_ctx *c, int argc, char **argv)
{
	struct waitopts o = { .cmd = &tc_jobs_cmds[3], .state = "ended", .interval = 1.0 };
	long long id;
	int first, rc = tc_parse(c, o.cmd, argc, argv, NULL, wait_opts, wait_opt, &o, &first);
	if (rc >= 0)
		return rc;
	if ((rc = parse_id(o.cmd, argc, argv, first, &id)))
		return rc;
	json_t *job = NULL;
	rc = wait_job(c, id, o.state, o.timeout, o.interval, &job);
	if (job) {
		if (c->json)
			tc_print_json(job);
		else if (!c->quiet)
			printf("job %lld %s%s%s\n", id, tc_jstr(job, "state"),
				*tc_jstr(job, "reason") ? ": " : "", tc_jstr(job, "reason"));
	}
	json_decref(job);
	return rc;
}

/* ---- jobs stop / cancel / delete --------------------------------------------------------- */

static int
act(struct tc_ctx *c, const struct tc_cmd *cmd, int argc, char **argv, const char *method,
	const char *verb)
{
	int first, rc = tc_parse(c, cmd, argc, argv, NULL, NULL, NULL, NULL, &first);
	if (rc >= 0)
		return rc;
	if (first >= argc)
		return tc_usage_error(cmd, "a job id is needed");
	for (int i = first; i < argc; i++)
		if (!tc_id(argv[i]))
			return tc_usage_error(cmd, "'%s' is not a job id", argv[i]);
	int worst = 0;
	for (int i = first; i < argc; i++) {
		char path[80];
		json_t *job = NULL;
		long long id = tc_id(argv[i]);
		if (verb)
			snprintf(path, sizeof(path), "/api/v1/jobs/%lld/%s", id, verb);
		else
			snprintf(path, sizeof(path), "/api/v1/jobs/%lld", id);
		rc = tc_api(c, method, path, NULL, &job);
		if (rc) {
			worst = worst ? worst : rc;
			continue;
		}
		if (!job)
			job = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
		if (c->json)
			tc_print_json(job);
		else if (!c->quiet)
			printf("job %lld %s\n", id, verb ? tc_jstr(job, "state") : "deleted");
		json_decref(job);
	}
	return worst;
}

static int
cmd_stop(struct tc_ctx *c, int argc, char **argv)
{
	return act(c, &tc_jobs_cmds[4], argc, argv, "POST", "stop");
}

static int
cmd_cancel(struct tc_ctx *c, int argc, char **argv)
{
	return act(c, &tc_jobs_cmds[5], argc, argv, "POST", "cancel");
}

static int
cmd_delete(struct tc_ctx *c, int argc, char **argv)
{
	return act(c, &tc_jobs_cmds[6], argc, argv, "DELETE", NULL);
}

/* ---- files, script log, classification mix ----------------------------------------------- */

/* The job the command line names, and one of its sub-resources: the command's options parsed,
 * GET /api/v1/jobs/{id}/{what}. 0 with the answer in *out (NULL when --json printed it), or the
 * exit code to leave with. */
static int
job_resource(struct tc_ctx *c, const struct tc_cmd *cmd, int argc, char **argv, const char *what,
	json_t **out)
{
	long long id;
	char path[96];
	int first, rc = tc_parse(c, cmd, argc, argv, NULL, NULL, NULL, NULL, &first);

	*out = NULL;
	if (rc >= 0)
		return rc;
	if ((rc = parse_id(cmd, argc, argv, first, &id)))
		return rc;
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/%s", id, what);
	if ((rc = tc_api(c, "GET", path, NULL, out)))
		return rc;
	if (c->json) {
		tc_print_json(*out);
		json_decref(*out);
		*out = NULL;
	}
	return 0;
}

static int
files_of(struct tc_ctx *c, const struct tc_cmd *cmd, int argc, char **argv)
{
	json_t *r;
	int rc = job_resource(c, cmd, argc, argv, "files", &r);
	if (rc || !r)
		return rc;
	static const char *const hdr[] = { "PATH", "SIZE", "BYTES", "SHA256", NULL };
	struct tc_table *t = tc_table_new(hdr);
	size_t i;
	json_t *f;
	uint64_t total = 0;
	json_array_foreach(json_object_get(r, "items"), i, f) {
		char sz[32], b[24];
		tc_fmt_bytes((uint64_t)tc_jint(f, "size"), sz, sizeof(sz));
		snprintf(b, sizeof(b), "%lld", tc_jint(f, "size"));
		total += (uint64_t)tc_jint(f, "size");
		const char *h = tc_jstr(f, "sha256");
		const char *cells[] = { tc_jstr(f, "path"), sz, b, *h ? h : "-" };
		tc_table_add(t, cells);
	}
	tc_table_print(t, stdout);
	tc_table_free(t);
	char tb[32];
	tc_fmt_bytes(total, tb, sizeof(tb));
	if (!c->quiet)
		printf("%zu files, %s\n", json_array_size(json_object_get(r, "items")), tb);
	json_decref(r);
	return 0;
}

static int
cmd_files(struct tc_ctx *c, int argc, char **argv)
{
	return files_of(c, &tc_jobs_cmds[7], argc, argv);
}

static int
cmd_files_list(struct tc_ctx *c, int argc, char **argv)
{
	return files_of(c, &tc_jobs_cmds[10], argc, argv);
}

static int
sink_stdout(void *arg, const char *buf, size_t n)
{
	(void)arg;
	return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

static int
cmd_script_log(struct tc_ctx *c, int argc, char **argv)
{
	const struct tc_cmd *cmd = &tc_jobs_cmds[8];
	long long id;
	int first, rc = tc_parse(c, cmd, argc, argv, NULL, NULL, NULL, NULL, &first);
	if (rc >= 0)
		return rc;
	if ((rc = parse_id(cmd, argc, argv, first, &id)))
		return rc;
	char path[64];
	struct tc_http_resp rs;
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/script-log", id);
	rc = tc_api_stream(c, path, NULL, sink_stdout, NULL, &rs);
	tc_http_resp_free(&rs);
	return rc;
}

static int
cmd_apps(struct tc_ctx *c, int argc, char **argv)
{
	json_t *r;
	int rc = job_resource(c, &tc_jobs_cmds[9], argc, argv, "apps", &r);
	if (rc || !r)
		return rc;
	json_t *items = json_object_get(r, "items");
	double total = 0;
	size_t i;
	json_t *a;
	json_array_foreach(items, i, a)
		total += (double)tc_jint(a, "bytes");
	/* PACKETS, BYTES: what the dataset holds; LINK BYTES: what the link carried in those
	 * sessions (more when packets were dropped before the writer) */
	static const char *const hdr[] = { "APP", "SESSIONS", "PACKETS", "BYTES", "SHARE",
		"LINK BYTES", NULL };
	struct tc_table *t = tc_table_new(hdr);
	json_array_foreach(items, i, a) {
		char s[24], p[24], b[32], sh[16], lb[32];
		snprintf(s, sizeof(s), "%lld", tc_jint(a, "sessions"));
		snprintf(p, sizeof(p), "%lld", tc_jint(a, "packets"));
		tc_fmt_bytes((uint64_t)tc_jint(a, "bytes"), b, sizeof(b));
		snprintf(sh, sizeof(sh), "%.1f%%", total > 0 ? 100.0 * (double)tc_jint(a, "bytes") / total : 0);
		tc_fmt_bytes((uint64_t)(json_object_get(a, "link_bytes") ? tc_jint(a, "link_bytes") :
			tc_jint(a, "bytes")), lb, sizeof(lb));
		const char *cells[] = { tc_jstr(a, "app"), s, p, b, sh, lb };
		tc_table_add(t, cells);
	}
	tc_table_print(t, stdout);
	tc_table_free(t);
	json_decref(r);
	return 0;
}

const struct tc_cmd tc_jobs_cmds[] = {
	{ "jobs create", "--name NAME --max-size SIZE --max-duration DUR [options]",
		"Create a capture job. The filter and the application names are checked by the\n"
		"server (POST /jobs/validate) before the job is submitted; a bad filter exits 7 with\n"
		"libpcap's message, an unknown application 7 with the drone's.\n\n"
		"  -n, --name NAME          job name (also the first argument)\n"
		"  -d, --description TEXT\n"
		"  -l, --link LINK          link to capture on: demo, or drone/link (repeat for\n"
		"                           several; default: the server's default link)\n"
		"  -f, --filter EXPR        tcpdump filter (default: every packet)\n"
		"  -s, --max-size SIZE      stop at this dataset size: 512M, 10G (binary units)\n"
		"  -t, --max-duration DUR   stop after: 90s, 15m, 1h30m, 1d\n"
		"  --snaplen N              keep N bytes of each packet (0 = whole, else 64-262144)\n"
		"  --lookback DUR           start up to DUR before now, from the drone's look-back\n"
		"                           buffer (30s, 5m; at most 1h; default none)\n"
		"  --max-packets N          stop after N packets per link (default unlimited)\n"
		"  --shard-size SIZE        close a shard (a file of the dataset, sent to the Hive\n"
		"                           as it closes) at this size: 64M, 1G (default 256M)\n"
		"  --shard-time DUR         ... or after this long: 30s, 5m (default no limit)\n"
		"  --anonymise              prefix-preserving IP anonymisation (per-job key)\n"
		"  --classify               identify applications (flow records)\n"
		"  --session-type T         flow | biflow | host (implies --classify)\n"
		"  --export URL             with --classify: send each flow record as it ends to a\n"
		"                           collector: ipfix://HOST[:PORT] (UDP, 4739),\n"
		"                           ipfix+tcp://, json+tcp://, json+udp://HOST:PORT\n"
		"  --apps LIST              keep only the sessions of these applications or services:\n"
		"                           QUIC,YouTube (implies --classify; flow or biflow)\n"
		"  --apps-undecided P       keep | drop a session still unidentified at a bound\n"
		"                           (default drop)\n"
		"  --apps-packets N         packets a session may wait to be identified (1-255, 32)\n"
		"  --apps-wait DUR          ... and how long: 1s-5m (default 5s)\n"
		"  -g, --group GROUP        share the job with GROUP\n"
		"  --script FILE            post-processing script (run in the sandbox after capture)\n"
		"  --script-timeout DUR     how long the script may run (1s-1h, default 5m)\n"
		"  --check-only             only check the filter and the applications; create nothing\n"
		"  --no-check               skip the separate filter and applications check\n"
		"  -w, --wait               wait until the job ends, then show it\n"
		"prints: created job ID (STATE) on LINKS; -q prints only the id; --json the job.\n",
		cmd_create },
	{ "jobs list", "[--state STATE] [--limit N] [--offset N] [--all]",
		"List jobs in your scope, newest first.\n\n"
		"  --state STATE   only jobs in STATE (pending, running, ..., or ended, active)\n"
		"  -n, --limit N   at most N (1-1000, default 100)\n"
		"  --offset N      skip the first N\n"
		"  -a, --all       every job (pages through)\n", cmd_list },
	{ "jobs show", "ID", "Show a job: settings, state, counters, links.\n", cmd_show },
	{ "jobs wait", "ID [--state STATE] [--for DUR] [--interval SECS]",
		"Wait until a job reaches STATE (default: ended, i.e. done, failed or cancelled),\n"
		"with a progress bar on a terminal. Exits 9 if --for runs out, 10 if the job ends\n"
		"in another state (e.g. failed while waiting for done).\n\n"
		"  --state STATE    ended | running | finishing | processing | done | failed | cancelled\n"
		"  --for DUR        give up after DUR (default 7 days)\n"
		"  --interval SECS  poll interval (default 1)\n", cmd_wait },
	{ "jobs stop", "ID...", "Stop running jobs (their datasets are kept, state done).\n", cmd_stop },
	{ "jobs cancel", "ID...", "Cancel pending or running jobs.\n", cmd_cancel },
	{ "jobs delete", "ID...", "Delete ended jobs and their datasets.\n", cmd_delete },
	{ "jobs files", "ID", "List the dataset's files with size and sha256 (same as files list).\n",
		cmd_files },
	{ "jobs script-log", "ID", "Print the post-processing script's output.\n", cmd_script_log },
	{ "jobs apps", "ID", "The job's classification mix: sessions, and the packets and bytes the\n"
		"dataset holds per application, with the bytes the link carried in them beside.\n",
		cmd_apps },
	{ "files list", "ID", "List the dataset's files with size and sha256.\n", cmd_files_list },
	{ NULL, NULL, NULL, NULL },
};
