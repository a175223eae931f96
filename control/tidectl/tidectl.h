/* tidectl.h — what tidectl's files share: the run context, exit codes, the command table and
 * the REST helpers (tidectl_api.c) every command uses.
 *
 * tidectl is the operator's client of tide-control's REST API (docs/CLI.md). One process runs
 * one command; nothing is cached between runs except what the operator writes in the config
 * file. Exit codes are part of the interface: scripts rely on them. */
#ifndef TIDECTL_H
#define TIDECTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "tidectl_http.h"

/* Exit codes (docs/CLI.md); keep in step with the table there and with --help. */
enum tc_exit {
	TC_OK = 0,
	TC_ERR = 1,         /* anything else: server error, local I/O */
	TC_USAGE = 2,       /* bad command line */
	TC_AUTH = 3,        /* no/invalid token, forbidden, config file not 0600 */
	TC_NOTFOUND = 4,    /* 404 */
	TC_CONFLICT = 5,    /* 409: invalid state, exists, builtin, quota */
	TC_UNREACHABLE = 6, /* connect, TLS or timeout */
	TC_INVALID = 7,     /* 400/422: refused by the server's validation (filter, tuning) */
	TC_VERIFY = 8,      /* download incomplete or sha256 mismatch */
	TC_TIMEOUT = 9,     /* wait: the state was not reached in time */
	TC_ENDED = 10,      /* wait: the job ended in another state */
};

struct tc_ctx {
	/* as given on the command line (NULL = not given) */
	const char *opt_server, *opt_token, *opt_config, *opt_cacert;
	bool json, quiet, insecure;
	bool config_may_be_new; /* login / tokens create --save: --config names a file to write */
	int timeout_s;
	/* resolved by tc_ctx_ready(): flag > environment > config file > default */
	bool ready;
	char server[512];
	char token[256];
	char cacert[512];
	char config_path[512];
	struct tc_http_target target;
};

struct tc_cmd {
	const char *name;  /* "jobs create": the words that select it */
	const char *args;  /* synopsis after the name */
	const char *help;  /* what it does, then its own options */
	int (*run)(struct tc_ctx *c, int argc, char **argv);
};

/* Every subcommand's table (tidectl_jobs.c, ...), each ended by a NULL name. */
extern const struct tc_cmd tc_jobs_cmds[], tc_download_cmds[], tc_admin_cmds[],
	tc_drone_cmds[], tc_top_cmds[], tc_main_cmds[];

/* ---- options (tidectl.c) ----------------------------------------------------------------- */
/* Parses argv (argv[0] is the subcommand's last word) with the command's own options and the
 * global ones anywhere on the line; on_opt gets each own option. Returns -1 when parsing went
 * through (positionals are argv[*first..argc)), or an exit code to return at once (0 after
 * --help). */
int tc_parse(struct tc_ctx *c, const struct tc_cmd *cmd, int argc, char **argv,
	const char *shortopts, const struct option *own,
	int (*on_opt)(void *arg, int opt, const char *val), void *arg, int *first);
int tc_usage_error(const struct tc_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- configuration (tidectl_config.c) ---------------------------------------------------- */
/* Resolves server and token; prints why and returns an exit code on failure, 0 on success. */
int tc_ctx_ready(struct tc_ctx *c, bool need_token);
/* Writes server and token to the config file (created 0600). 0 or an exit code. */
int tc_config_save(struct tc_ctx *c, const char *server, const char *token);

/* ---- REST (tidectl_api.c) ---------------------------------------------------------------- */
/* One JSON request. body may be NULL. On 2xx returns 0 and *out (NULL for an empty answer;
 * caller decrefs); otherwise prints the server's error and returns its exit code. */
int tc_api(struct tc_ctx *c, const char *method, const char *path, json_t *body, json_t **out);
/* Same, quiet on failure; *status gets the HTTP status (0 when unreachable). */
int tc_api_quiet(struct tc_ctx *c, const char *method, const char *path, json_t *body,
	json_t **out, int *status);
/* A GET whose 2xx body goes to sink (downloads); rs is filled. Returns 0 or an exit code
 * (errors printed). */
int tc_api_stream(struct tc_ctx *c, const char *path, const char *range, tc_http_sink sink,
	void *arg, struct tc_http_resp *rs);
int tc_exit_for_status(int status);
/* Percent-encodes s for a path (keep_slash) or a query value; returns out. */
char *tc_escape(const char *s, bool keep_slash, char *out, size_t len);
/* A positive id from text, or 0. */
long long tc_id(const char *s);
/* "tidectl: message" on stderr. */
void tc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- jobs shown (tidectl_jobs_show.c) ---------------------------------------------------- */
/* A job as `jobs show` prints it: settings, counters, drops with hints, selection, links. */
void tc_show_job(struct tc_ctx *c, const json_t *job);
/* "drone/link" of every link of the job, joined with "," in buf. */
void tc_job_links(const json_t *job, char *buf, size_t len);

#endif
