/* tidectl.c — the operator's command line for tide: global options, the command tables of the
 * other tidectl_*.c files, dispatch and --help. Commands are data (struct tc_cmd); adding one is
 * a row in its file's table. Reference: docs/CLI.md. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tidectl.h"
#include "tidectl_out.h"

enum {
	G_SERVER = 1000, G_TOKEN, G_CONFIG, G_CACERT, G_INSECURE, G_JSON, G_QUIET, G_TIMEOUT,
	G_HELP, G_VERSION,
};

static const struct option global_opts[] = {
	{ "server", required_argument, NULL, G_SERVER },
	{ "token", required_argument, NULL, G_TOKEN },
	{ "config", required_argument, NULL, G_CONFIG },
	{ "cacert", required_argument, NULL, G_CACERT },
	{ "insecure", no_argument, NULL, G_INSECURE },
	{ "json", no_argument, NULL, G_JSON },
	{ "quiet", no_argument, NULL, G_QUIET },
	{ "timeout", required_argument, NULL, G_TIMEOUT },
	{ "help", no_argument, NULL, G_HELP },
	{ "version", no_argument, NULL, G_VERSION },
};
#define N_GLOBAL (sizeof(global_opts) / sizeof(global_opts[0]))

static const char global_help[] =
	"global options (anywhere on the line):\n"
	"  --server URL     tide-control, http[s]://host[:port] (TIDE_SERVER; default\n"
	"                   http://127.0.0.1:8080)\n"
	"  --token TOKEN    application token tide_... (TIDE_TOKEN; or the config file)\n"
	"  --config FILE    config file (default ~/.config/tide/tidectl.conf; must be 0600)\n"
	"  --cacert FILE    CA certificates for https (TIDE_CACERT)\n"
	"  --insecure       https without certificate verification\n"
	"  --json           JSON output for scripts\n"
	"  -q, --quiet      no progress bars; terse output\n"
	"  --timeout SECS   network timeout (default 30)\n"
	"  -h, --help       this help\n";

static const char exit_help[] =
	"exit codes: 0 ok, 1 error, 2 usage, 3 authentication/permission (or config file not\n"
	"0600), 4 not found, 5 conflict or invalid state, 6 server unreachable, 7 refused by\n"
	"validation (filter, tuning, bounds), 8 download incomplete or sha256 mismatch, 9 wait\n"
	"timed out, 10 job ended in another state than waited for\n";

static const struct tc_cmd *const tables[] = {
	tc_jobs_cmds, tc_download_cmds, tc_admin_cmds, tc_drone_cmds, tc_top_cmds,
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static void
print_cmd_help(const struct tc_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: tidectl %s %s\n\n%s\n%s\n%s", cmd->name, cmd->args, cmd->help,
		global_help, exit_help);
}

int
tc_usage_error(const struct tc_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("tidectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: tidectl %s %s\n(tidectl %s --help for more)\n", cmd->name,
		cmd->args, cmd->name);
	return TC_USAGE;
}

static int
global_opt(struct tc_ctx *c, int opt, const char *val)
{
	switch (opt) {
	case G_SERVER: c->opt_server = val; return 0;
	case G_TOKEN: c->opt_token = val; return 0;
	case G_CONFIG: c->opt_config = val; return 0;
	case G_CACERT: c->opt_cacert = val; return 0;
	case G_INSECURE: c->insecure = true; return 0;
	case G_JSON: c->json = true; return 0;
	case 'q':
	case G_QUIET: c->quiet = true; return 0;
	case G_TIMEOUT:
		c->timeout_s = atoi(val);
		if (c->timeout_s <= 0 || c->timeout_s > 3600) {
			tc_err("--timeout: 1 to 3600 seconds");
			return TC_USAGE;
		}
		return 0;
	default: return -1;
	}
}

int
tc_parse(struct tc_ctx *c, const struct tc_cmd *cmd, int argc, char **argv,
	const char *shortopts, const struct option *own,
	int (*on_opt)(void *arg, int opt, const char *val), void *arg, int *first)
{
	struct option all[64];
	size_t n = 0;
	for (; own && own[n].name && n < 64 - N_GLOBAL - 1; n++)
		all[n] = own[n];
	memcpy(all + n, global_opts, sizeof(global_opts));
	memset(all + n + N_GLOBAL, 0, sizeof(all[0]));
	char so[64];
	snprintf(so, sizeof(so), ":hq%s", shortopts ? shortopts : "");
	optind = 0;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, so, all, NULL)) != -1) {
		if (opt == 'h' || opt == G_HELP) {
			print_cmd_help(cmd, stdout);
			return 0;
		}
		if (opt == G_VERSION) {
			printf("tidectl %s\n", TIDE_VERSION);
			return 0;
		}
		if (opt == '?')
			return tc_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		if (opt == ':')
			return tc_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		int rc = global_opt(c, opt, optarg);
		if (rc == -1)
			rc = on_opt ? on_opt(arg, opt, optarg) : TC_USAGE;
		if (rc > 0)
			return rc;
	}
	*first = optind;
	return -1;
}

/* ---- built-in commands: version, help ---------------------------------------------------- */

static int
cmd_version(struct tc_ctx *c, int argc, char **argv)
{
	int first, rc = tc_parse(c, &tc_main_cmds[0], argc, argv, NULL, NULL, NULL, NULL, &first);
	if (rc >= 0)
		return rc;
	printf("tidectl %s\n", TIDE_VERSION);
	if ((rc = tc_ctx_ready(c, false)))
		return rc;
	struct tc_http_req rq = { .method = "GET", .path = "/api/v1/health" };
	struct tc_http_resp rs;
	char err[512];
	if (tc_http_do(&c->target, &rq, &rs, err, sizeof(err)) != 0) {
		tc_err("%s", err);
		tc_http_resp_free(&rs);
		return TC_UNREACHABLE;
	}
	json_t *j = json_loadb(rs.body ? rs.body : "", rs.body_len, 0, NULL);
	printf("tide-control %s at %s (%s)\n", j ? tc_jstr(j, "version") : "?", c->server,
		j ? tc_jstr(j, "status") : "no answer");
	json_decref(j);
	rc = tc_exit_for_status(rs.status);
	tc_http_resp_free(&rs);
	return rc;
}

static const struct tc_cmd *find_cmd(int argc, char **argv, int *used);
static void list_cmds(FILE *f, const char *group);

static int
cmd_help(struct tc_ctx *c, int argc, char **argv)
{
	int used, first, rc = tc_parse(c, &tc_main_cmds[1], argc, argv, NULL, NULL, NULL, NULL,
		&first);
	if (rc >= 0)
		return rc;
	argc -= first - 1;
	argv += first - 1;
	const struct tc_cmd *cmd = find_cmd(argc - 1, argv + 1, &used);
	if (cmd) {
		print_cmd_help(cmd, stdout);
		return 0;
	}
	list_cmds(stdout, argc > 1 ? argv[1] : NULL);
	return argc > 1 ? TC_USAGE : 0;
}

const struct tc_cmd tc_main_cmds[] = {
	{ "version", "", "Print tidectl's version and the server's (GET /api/v1/health, no token).\n",
		cmd_version },
	{ "help", "[COMMAND...]", "Help on a command.\n", cmd_help },
	{ NULL, NULL, NULL, NULL },
};

/* ---- dispatch ---------------------------------------------------------------------------- */

static int
words_match(const char *name, int argc, char **argv)
{
	int w = 0;
	const char *p = name;
	while (*p) {
		size_t l = strcspn(p, " ");
		if (w >= argc || strlen(argv[w]) != l || strncmp(argv[w], p, l) != 0)
			return 0;
		w++;
		p += l;
		while (*p == ' ')
			p++;
	}
	return w;
}

static const struct tc_cmd *
find_cmd(int argc, char **argv, int *used)
{
	const struct tc_cmd *best = NULL;
	*used = 0;
	for (size_t t = 0; t <= N_TABLES; t++) {
		const struct tc_cmd *tab = t < N_TABLES ? tables[t] : tc_main_cmds;
		for (const struct tc_cmd *c = tab; c->name; c++) {
			int w = words_match(c->name, argc, argv);
			if (w > *used) {
				*used = w;
				best = c;
			}
		}
	}
	return best;
}

static void
list_cmds(FILE *f, const char *group)
{
	size_t gl = group ? strlen(group) : 0;
	bool any = false;
	for (size_t t = 0; t <= N_TABLES; t++) {
		const struct tc_cmd *tab = t < N_TABLES ? tables[t] : tc_main_cmds;
		for (const struct tc_cmd *c = tab; c->name; c++) {
			if (group && (strncmp(c->name, group, gl) != 0 ||
					(c->name[gl] != ' ' && c->name[gl] != '\0')))
				continue;
			if (!any)
				fprintf(f, "%s:\n", group ? "subcommands" : "commands");
			any = true;
			/* the name and the help's first sentence */
			size_t l = strcspn(c->help, "\n");
			const char *dot = strstr(c->help, ". ");
			if (dot && (size_t)(dot - c->help) < l)
				l = (size_t)(dot - c->help) + 1;
			fprintf(f, "  %-20s %.*s\n", c->name, (int)l, c->help);
		}
	}
	if (group && !any)
		fprintf(f, "tidectl: unknown command '%s'\n", group);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: tidectl [global options] COMMAND [options] [args]\n\n"
		"tidectl drives tide-control (the Hive) over its REST API, and shows a standalone\n"
		"tide-dataplane's live counters (tidectl top --telemetry). docs/CLI.md is the reference.\n\n");
	list_cmds(f, NULL);
	fprintf(f, "\n%s\n%s", global_help, exit_help);
}

int
main(int argc, char **argv)
{
	struct tc_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	signal(SIGPIPE, SIG_IGN);

	/* global options before the command; they may also follow it */
	int opt;
	optind = 0;
	opterr = 0;
	struct option go[N_GLOBAL + 1];
	memcpy(go, global_opts, sizeof(global_opts));
	memset(&go[N_GLOBAL], 0, sizeof(go[0]));
	while ((opt = getopt_long(argc, argv, "+:hq", go, NULL)) != -1) {
		if (opt == 'h' || opt == G_HELP) {
			usage(stdout);
			return 0;
		}
		if (opt == G_VERSION) {
			printf("tidectl %s\n", TIDE_VERSION);
			return 0;
		}
		if (opt == '?' || opt == ':') {
			tc_err("%s option '%s' (tidectl --help)",
				opt == '?' ? "unknown" : "missing value for", argv[optind - 1]);
			return TC_USAGE;
		}
		int rc = global_opt(&ctx, opt, optarg);
		if (rc)
			return rc;
	}
	if (optind >= argc) {
		usage(stderr);
		return TC_USAGE;
	}
	int used;
	const struct tc_cmd *cmd = find_cmd(argc - optind, argv + optind, &used);
	if (!cmd || strchr(cmd->name, ' ') == NULL) {
		/* a group word alone ("jobs"), or a word of no command */
		bool group = false;
		for (size_t t = 0; t < N_TABLES && !group; t++)
			for (const struct tc_cmd *c = tables[t]; c->name && !group; c++)
				group = strncmp(c->name, argv[optind], strlen(argv[optind])) == 0 &&
					c->name[strlen(argv[optind])] == ' ';
		if (group && (!cmd || strcmp(cmd->name, argv[optind]) != 0)) {
			bool help = optind + 1 < argc && (strcmp(argv[optind + 1], "--help") == 0 ||
							  strcmp(argv[optind + 1], "-h") == 0);
			if (optind + 1 < argc && !help)
				tc_err("unknown command '%s %s'", argv[optind], argv[optind + 1]);
			list_cmds(help ? stdout : stderr, argv[optind]);
			return help ? 0 : TC_USAGE;
		}
		if (!cmd) {
			tc_err("unknown command '%s' (tidectl --help)", argv[optind]);
			return TC_USAGE;
		}
	}
	int start = optind + used - 1;
	char prog[96];
	snprintf(prog, sizeof(prog), "tidectl %s", cmd->name);
	argv[start] = prog;
	return cmd->run(&ctx, argc - start, argv + start);
}
