/* tidectl_drones.c — drones, links and their tuning: `tidectl drones ...`, `tidectl links`,
 * `tidectl tune DRONE [KEY=VALUE...]`.
 *
 * Built against the drone contract (GET/POST/DELETE /api/v1/drones, /drones/{id}/token,
 * GET/PUT /drones/{id}/tuning, GET /links with counters). The tuning keys, their kinds, ranges
 * and defaults are the contract's table (tide_tuning.h), which `tune`'s help lists. A value is
 * checked for its key and type here and for its range by the server, which knows the drone
 * host's cores, NUMA nodes and port queue limits (400, or 422 invalid_tuning: exit 7); the
 * drone applies it at the next capture start. A control plane without the drone routes
 * answers 404: said plainly, exit 4. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tide_tuning.h"
#include "tidectl.h"
#include "tidectl_out.h"

extern const struct tc_cmd tc_drone_cmds[];

/* The tune command's help: its own text, then every tuning key of the contract's table
 * (tide_tuning.h) with its range and default. Written once, before main, into the buffer its
 * entry in tc_drone_cmds points to: the command tables are const data. */
static char tune_help[4096];

static __attribute__((constructor)) void
tune_help_init(void)
{
	size_t n = (size_t)snprintf(tune_help, sizeof(tune_help), "%s",
		"Show a drone's core and queue tuning (desired, applied, what the host allows), or\n"
		"set keys. The server checks values against the drone host (cores, NUMA nodes,\n"
		"port queue limits; exit 7 with its reason); the drone restarts its dataplane\n"
		"with them as soon as no job runs on it; changes are audited (drone.tune).\n\n"
		"keys (as GET /api/v1/meta/tuning describes them):\n");
	for (size_t i = 0; i < tide_tuning_count && n < sizeof(tune_help); i++) {
		const struct tide_tuning_key *k = &tide_tuning_keys[i];
		char range[64], def[64];
		tide_tuning_range_text(k, range, sizeof(range));
		tide_tuning_default_text(k, def, sizeof(def));
		n += (size_t)snprintf(tune_help + n, sizeof(tune_help) - n,
			"  %-14s %s\n  %-14s %s, default %s\n", k->name, k->help, "", range, def);
	}
	if (n < sizeof(tune_help))
		snprintf(tune_help + n, sizeof(tune_help) - n, "example: tidectl tune local "
			"workers=2 rx_desc=2048 hugepages=true\n");
}

static int
no_drone_api(struct tc_ctx *c, int rc, int status)
{
	(void)c;
	if (status == 404)
		tc_err("this tide-control has no drone API (its only drone is the built-in local one; "
			"tidectl links lists its links)");
	return rc;
}

/* GET with the server's 404 told as "no drone API" when the route itself is missing. */
static int
get_drone_route(struct tc_ctx *c, const char *path, json_t **out)
{
	int status;
	int rc = tc_api_quiet(c, "GET", path, NULL, out, &status);
	if (rc == 0)
		return 0;
	if (status == 404) {
		/* a missing drone and a missing route both answer 404: the list tells which */
		json_t *l = NULL;
		int st2;
		if (tc_api_quiet(c, "GET", "/api/v1/drones", NULL, &l, &st2) != 0 && st2 == 404)
			return no_drone_api(c, TC_NOTFOUND, 404);
		json_decref(l);
	}
	return tc_api(c, "GET", path, NULL, out);
}

static int
resolve_drone(struct tc_ctx *c, const char *arg, long long *id)
{
	if ((*id = tc_id(arg)))
		return 0;
	json_t *r;
	int rc = get_drone_route(c, "/api/v1/drones", &r);
	if (rc)
		return rc;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(r, "items"), i, d)
		if (strcasecmp(tc_jstr(d, "name"), arg) == 0)
			*id = tc_jint(d, "id");
	json_decref(r);
	if (!*id) {
		tc_err("no drone '%s' (tidectl drones list)", arg);
		return TC_NOTFOUND;
	}
	return 0;
}

static int
noargs(struct tc_ctx *c, const struct tc_cmd *cmd, int argc, char **argv, int *first)
{
	return tc_parse(c, cmd, argc, argv, NULL, NULL, NULL, NULL, first);
}

/* ---- drones ------------------------------------------------------------------------------ */

static void
drones_table(const json_t *r)
{
	static const char *const hdr[] = { "ID", "NAME", "STATE", "VERSION", "HOST", "ADDRESS",
		"LINKS", "CORES", "NUMA", "HUGEPAGES", "LAST SEEN", NULL };
	struct tc_table *t = tc_table_new(hdr);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(r, "items"), i, d) {
		json_t *h = json_object_get(d, "host");
		char id[24], nl[24], co[24], nu[24], hp[48], ls[32];
		snprintf(id, sizeof(id), "%lld%s", tc_jint(d, "id"),
			json_is_true(json_object_get(d, "builtin")) ? "*" : "");
		snprintf(nl, sizeof(nl), "%zu", json_array_size(json_object_get(d, "links")));
		snprintf(co, sizeof(co), "%lld", tc_jint(h, "cores"));
		snprintf(nu, sizeof(nu), "%lld", tc_jint(h, "numa_nodes"));
		snprintf(hp, sizeof(hp), "%lld/%lld free", tc_jint(h, "hugepages_free"),
			tc_jint(h, "hugepages_total"));
		tc_fmt_time(tc_jstr(d, "last_seen_at"), ls, sizeof(ls));
		const char *cells[] = { id, tc_jstr(d, "name"), tc_jstr(d, "state"),
			tc_jstr(d, "version"), tc_jstr(d, "hostname"), tc_jstr(d, "address"), nl, co, nu,
			hp, ls };
		tc_table_add(t, cells);
	}
	tc_table_print(t, stdout);
	tc_table_free(t);
}

static void links_table(const json_t *items);

/* Options, then the drone named by the first operand (id or name): -1 with *id and *first
 * set, or the exit status the command returns. */
static int
drone_operand(struct tc_ctx *c, const struct tc_cmd *cmd, int argc, char **argv, int *first,
	long long *id)
{
	int rc = noargs(c, cmd, argc, argv, first);
	if (rc >= 0)
		return rc;
	if (*first >= argc)
		return tc_usage_error(cmd, "which drone? (id or name)");
	if ((rc = resolve_drone(c, argv[*first], id)))
		return rc;
	return -1;
}

static int
cmd_drones_list(struct tc_ctx *c, int argc, char **argv)
{
	int first, rc = noargs(c, &tc_drone_cmds[0], argc, argv, &first);
	if (rc >= 0)
		return rc;
	json_t *r;
	if ((rc = get_drone_route(c, "/api/v1/drones", &r)))
		return rc;
	if (c->json)
		tc_print_json(r);
	else
		drones_table(r);
	json_decref(r);
	return 0;
}

static int
cmd_drones_show(struct tc_ctx *c, int argc, char **argv)
{
	const struct tc_cmd *cmd = &tc_drone_cmds[1];
	int first;
	long long id;
	int rc = drone_operand(c, cmd, argc, argv, &first, &id);
	if (rc >= 0)
		return rc;
	char path[64];
	json_t *d;
	snprintf(path, sizeof(path), "/api/v1/drones/%lld", id);
	if ((rc = get_drone_route(c, path, &d)))
		return rc;
	if (c->json) {
		tc_print_json(d);
		json_decref(d);
		return 0;
	}
	json_t *h = json_object_get(d, "host");
	char t1[32], t2[32];
	tc_kv(stdout, "id", "%lld%s", tc_jint(d, "id"),
		json_is_true(json_object_get(d, "builtin")) ? " (built-in)" : "");
	tc_kv(stdout, "name", "%s", tc_jstr(d, "name"));
	tc_kv(stdout, "state", "%s", tc_jstr(d, "state"));
	tc_kv(stdout, "version", "%s", tc_jstr(d, "version"));
	tc_kv(stdout, "host", "%s (%s)", tc_jstr(d, "hostname"), tc_jstr(d, "address"));
	tc_kv(stdout, "cores", "%lld, %lld NUMA node(s)", tc_jint(h, "cores"), tc_jint(h, "numa_nodes"));
	tc_kv(stdout, "hugepages", "%lld free of %lld (%lld kB)", tc_jint(h, "hugepages_free"),
		tc_jint(h, "hugepages_total"), tc_jint(h, "hugepage_kb"));
	tc_fmt_time(tc_jstr(d, "connected_at"), t1, sizeof(t1));
	tc_fmt_time(tc_jstr(d, "last_seen_at"), t2, sizeof(t2));
	tc_kv(stdout, "connected", "%s", t1);
	tc_kv(stdout, "last seen", "%s", t2);
	char tn[512] = "";
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(d, "tuning"), k, v) {
		char s[32];
		tc_jtext(v, s, sizeof(s));
		int w = snprintf(tn + n, sizeof(tn) - n, "%s%s=%s", n ? " " : "", k, s);
		if (w < 0 || (size_t)w >= sizeof(tn) - n)
			break;
		n += (size_t)w;
	}
	tc_kv(stdout, "tuning", "%s", n ? tn : "-");
	printf("\n");
	links_table(json_object_get(d, "links"));
	json_decref(d);
	return 0;
}

static int
cmd_drones_create(struct tc_ctx *c, int argc, char **argv)
{
	const struct tc_cmd *cmd = &tc_drone_cmds[2];
	int first, rc = noargs(c, cmd, argc, argv, &first);
	if (rc >= 0)
		return rc;
	if (first >= argc)
		return tc_usage_error(cmd, "a drone name is needed");
	json_t *body = json_pack("{s:s}", "name", argv[first]), *r;
	int status;
	rc = tc_api_quiet(c, "POST", "/api/v1/drones", body, &r, &status);
	if (rc && status != 404)
		rc = tc_api(c, "POST", "/api/v1/drones", body, &r);
	else if (rc)
		rc = no_drone_api(c, rc, status);
	json_decref(body);
	if (rc)
		return rc;
	if (c->json) {
		tc_print_json(r);
	} else {
		fprintf(stderr, "drone %lld %s registered; its token (shown once) goes in the drone's "
			"configuration:\n", tc_jint(r, "id"), tc_jstr(r, "name"));
		printf("%s\n", tc_jstr(r, "token"));
	}
	json_decref(r);
	return 0;
}

static int
cmd_drones_delete(struct tc_ctx *c, int argc, char **argv)
{
	const struct tc_cmd *cmd = &tc_drone_cmds[3];
	int first;
	long long id;
	int rc = drone_operand(c, cmd, argc, argv, &first, &id);
	if (rc >= 0)
		return rc;
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/drones/%lld", id);
	if ((rc = tc_api(c, "DELETE", path, NULL, NULL)))
		return rc;
	if (!c->quiet)
		printf(c->json ? "{\"deleted\": %lld}\n" : "deleted drone %lld\n", id);
	return 0;
}

static int
cmd_drones_token(struct tc_ctx *c, int argc, char **argv)
{
	const struct tc_cmd *cmd = &tc_drone_cmds[4];
	int first;
	long long id;
	int rc = drone_operand(c, cmd, argc, argv, &first, &id);
	if (rc >= 0)
		return rc;
	char path[64];
	json_t *r;
	snprintf(path, sizeof(path), "/api/v1/drones/%lld/token", id);
	if ((rc = tc_api(c, "POST", path, NULL, &r)))
		return rc;
	if (c->json) {
		tc_print_json(r);
	} else {
		fprintf(stderr, "drone %lld: new token (shown once; the old one no longer works):\n", id);
		printf("%s\n", tc_jstr(r, "token"));
	}
	json_decref(r);
	return 0;
}

/* ---- links ------------------------------------------------------------------------------- */

static void
links_table(const json_t *items)
{
	static const char *const hdr[] = { "LINK", "STATE", "BUSY", "JOB", "QUEUES", "NUMA",
		"PKT/S", "BIT/S", "DROPS", "DEVICE", NULL };
	struct tc_table *t = tc_table_new(hdr);
	size_t i;
	json_t *l;
	json_array_foreach((json_t *)items, i, l) {
		json_t *ct = json_object_get(l, "counters");
		char name[256], job[24] = "-", q[24] = "-", nu[24] = "-", pps[24] = "-", bps[24] = "-",
			dr[24] = "-";
		snprintf(name, sizeof(name), "%s/%s", tc_jstr(l, "drone"), tc_jstr(l, "name"));
		if (json_is_integer(json_object_get(l, "job")))
			snprintf(job, sizeof(job), "%lld", tc_jint(l, "job"));
		if (json_object_get(l, "max_rx_queues"))
			snprintf(q, sizeof(q), "%lld", tc_jint(l, "max_rx_queues"));
		if (json_object_get(l, "numa_node"))
			snprintf(nu, sizeof(nu), "%lld", tc_jint(l, "numa_node"));
		if (json_is_object(ct)) {
			json_t *p = json_object_get(ct, "pps"), *b = json_object_get(ct, "bps");
			tc_fmt_count(json_number_value(p), pps, sizeof(pps));
			tc_fmt_count(json_number_value(b), bps, sizeof(bps));
			snprintf(dr, sizeof(dr), "%lld", tc_jint(ct, "drops"));
		}
		const char *busy = json_is_true(json_object_get(l, "busy")) ? "yes"
			: json_object_get(l, "busy") ? "no" : "-";
		const char *dev = tc_jstr(l, "device");
		const char *cells[] = { name, tc_jstr(l, "state"), busy, job, q, nu, pps, bps, dr,
			*dev ? dev : "-" };
		tc_table_add(t, cells);
	}
	tc_table_print(t, stdout);
	tc_table_free(t);
}

static int
cmd_links(struct tc_ctx *c, int argc, char **argv)
{
	int first, rc = noargs(c, &tc_drone_cmds[5], argc, argv, &first);
	if (rc >= 0)
		return rc;
	json_t *r;
	if ((rc = tc_api(c, "GET", "/api/v1/links", NULL, &r)))
		return rc;
	if (c->json)
		tc_print_json(r);
	else
		links_table(json_object_get(r, "items"));
	json_decref(r);
	return 0;
}

/* ---- tune -------------------------------------------------------------------------------- */

/* The tuning key KEY of "KEY=VALUE", NULL without one. */
static const struct tide_tuning_key *
find_key(const char *arg, const char *eq)
{
	char name[32];
	if (!eq || (size_t)(eq - arg) >= sizeof(name))
		return NULL;
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	return tide_tuning_find(name);
}

static void
tuning_table(const json_t *r)
{
	json_t *tn = json_object_get(r, "tuning"), *ap = json_object_get(r, "applied"),
		*lim = json_object_get(r, "limits");
	static const char *const hdr[] = { "KEY", "DESIRED", "APPLIED", "ALLOWED", NULL };
	struct tc_table *t = tc_table_new(hdr);
	for (size_t i = 0; i < tide_tuning_count; i++) {
		const struct tide_tuning_key *k = &tide_tuning_keys[i];
		char d[32], a[32], range[64], def[64], allowed[160];
		json_t *dv = json_object_get(tn, k->name), *av = json_object_get(ap, k->name);
		tc_jtext(dv, d, sizeof(d));
		tc_jtext(av, a, sizeof(a));
		if (!dv)
			snprintf(d, sizeof(d), "default");
		if (!av)
			snprintf(a, sizeof(a), json_is_object(ap) ? "default" : "(not yet)");
		tide_tuning_range_text(k, range, sizeof(range));
		tide_tuning_default_text(k, def, sizeof(def));
		snprintf(allowed, sizeof(allowed), "%s (default %s)", range, def);
		const char *cells[] = { k->name, d, a, allowed };
		tc_table_add(t, cells);
	}
	tc_table_print(t, stdout);
	tc_table_free(t);
	if (json_is_object(lim)) {
		char l[512] = "";
		size_t n = 0;
		const char *k;
		json_t *v;
		json_object_foreach(lim, k, v) {
			char s[32];
			tc_jtext(v, s, sizeof(s));
			int w = snprintf(l + n, sizeof(l) - n, "%s%s=%s", n ? " " : "", k, s);
			if (w < 0 || (size_t)w >= sizeof(l) - n)
				break;
			n += (size_t)w;
		}
		printf("\nlimits of the drone host: %s\n", l);
	}
	printf("changes apply at the next capture start on the drone's links\n");
}

static int
cmd_tune(struct tc_ctx *c, int argc, char **argv)
{
	const struct tc_cmd *cmd = &tc_drone_cmds[6];
	int first, rc = noargs(c, cmd, argc, argv, &first);
	if (rc >= 0)
		return rc;
	if (first >= argc)
		return tc_usage_error(cmd, "which drone? (id or name)");
	/* check every KEY=VALUE before asking anything */
	json_t *body = json_object();
	for (int i = first + 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		const struct tide_tuning_key *k = find_key(argv[i], eq);
		if (!k) {
			char keys[512] = "";
			size_t n = 0;
			for (size_t j = 0; j < tide_tuning_count && n < sizeof(keys); j++)
				n += (size_t)snprintf(keys + n, sizeof(keys) - n, "%s%s", j ? ", " : "",
					tide_tuning_keys[j].name);
			json_decref(body);
			return tc_usage_error(cmd, "'%s': expected KEY=VALUE with KEY one of %s",
				argv[i], keys);
		}
		/* the kind is checked here, the bounds by the server, which knows the host's */
		const char *v = eq + 1;
		if (k->kind == TIDE_TUNING_BOOL) {
			bool yes = !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1");
			bool no = !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0");
			if (!yes && !no) {
				json_decref(body);
				return tc_usage_error(cmd, "%s: true or false", k->name);
			}
			json_object_set_new(body, k->name, json_boolean(yes));
		} else {
			char *end;
			errno = 0;
			long long n = strtoll(v, &end, 10);
			if (!*v || *end || errno) {
				json_decref(body);
				return tc_usage_error(cmd, "%s: '%s' is not an integer", k->name, v);
			}
			json_object_set_new(body, k->name, json_integer(n));
		}
	}
	long long id;
	if ((rc = resolve_drone(c, argv[first], &id))) {
		json_decref(body);
		return rc;
	}
	char path[64];
	json_t *r;
	snprintf(path, sizeof(path), "/api/v1/drones/%lld/tuning", id);
	if (json_object_size(body))
		rc = tc_api(c, "PUT", path, body, &r);
	else
		rc = get_drone_route(c, path, &r);
	json_decref(body);
	if (rc)
		return rc;
	if (c->json)
		tc_print_json(r);
	else
		tuning_table(r);
	json_decref(r);
	return 0;
}

const struct tc_cmd tc_drone_cmds[] = {
	/* 0 */ { "drones list", "", "List drones: state, version, host, links (* = built-in).\n",
		cmd_drones_list },
	/* 1 */ { "drones show", "ID|NAME", "Show a drone, its host, tuning and links.\n",
		cmd_drones_show },
	/* 2 */ { "drones create", "NAME",
		"Register a remote drone (drones.admin); prints its token once.\n", cmd_drones_create },
	/* 3 */ { "drones delete", "ID|NAME", "Remove a drone (not the built-in local one).\n",
		cmd_drones_delete },
	/* 4 */ { "drones rotate-token", "ID|NAME",
		"Give a drone a new token; the old one stops working.\n", cmd_drones_token },
	/* 5 */ { "links", "", "List every link of every drone: state, the job on it, live rates.\n",
		cmd_links },
	/* 6 */ { "tune", "DRONE [KEY=VALUE...]", tune_help, cmd_tune },
	{ NULL, NULL, NULL, NULL },
};
