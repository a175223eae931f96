/* cp_options.c — parses tide-control's command line and configuration file from one table.
 *
 * Each setting is one row {key, type, offset, bounds, default, help}. The configuration file is
 * key = value lines; '#' or ';' start a comment, [section] headers are allowed and ignored (keys
 * are unique without them), and an unknown key is an error with its line number — a typo must
 * not silently fall back to a default. Sizes and durations in the grammar of tide_units.h. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cp_options.h"
#include "tide_units.h"

#define CP_CONFIG_LINE_MAX 4096

enum opt_type { OPT_STR, OPT_BOOL, OPT_UINT, OPT_SIZE, OPT_DURATION };

enum opt_flag {
	OPT_CLI_ONLY = 1 << 0, /* an action, not a setting: refused in the config file */
	OPT_HIDDEN = 1 << 1,   /* maintenance; left out of --help */
	OPT_NO_VALUE = 1 << 2, /* a flag on the command line (`--help`) */
};

struct opt_def {
	const char *key;  /* config key; the flag is "--" + key with '_' → '-' */
	enum opt_type type;
	size_t offset;
	uint64_t min, max;
	const char *def;
	unsigned flags;
	const char *arg;  /* placeholder in --help */
	const char *help;
};

#define O(field) offsetof(struct cp_options, field)

static const struct opt_def opt_defs[] = {
	{ "listen", OPT_STR, O(listen), 0, 0, "127.0.0.1:8080", 0, "ADDR:PORT",
		"address to serve on ([ADDR]:PORT for IPv6)" },
	{ "drone_listen", OPT_STR, O(drone_listen), 0, 0, "", 0, "ADDR:PORT",
		"address for drones' connections (default: listen's address, the next port; "
		"port 0 when listen's is 0); wss:// with tls_cert, else loopback only" },
	{ "data_dir", OPT_STR, O(data_dir), 0, 0, "./tide-data", 0, "DIR",
		"data directory (SQLite database tide.db)" },
	{ "config", OPT_STR, O(config_path), 0, 0, "", OPT_CLI_ONLY, "FILE",
		"configuration file (key = value; see config/tide-control.conf.example)" },
	{ "log_file", OPT_STR, O(log_file), 0, 0, "", 0, "FILE",
		"log file (default DATA_DIR/tide-control.log; '-' = stderr only)" },
	{ "log_level", OPT_STR, O(log_level), 0, 0, "info", 0, "LEVEL",
		"debug, info, warn or error" },
	{ "access_log", OPT_BOOL, O(access_log), 0, 0, "yes", 0, "yes|no",
		"log one line per request" },
	{ "webui", OPT_STR, O(webui_dir), 0, 0, "./webui", 0, "DIR",
		"web console files (a placeholder page when missing)" },
	{ "tls_cert", OPT_STR, O(tls_cert), 0, 0, "", 0, "FILE",
		"PEM certificate chain: serve HTTPS (needs --tls-key)" },
	{ "tls_key", OPT_STR, O(tls_key), 0, 0, "", 0, "FILE", "PEM private key" },
	{ "tls_shim", OPT_STR, O(tls_shim), 0, 0, "", 0, "FILE",
		"cp_ssl_shim.so (default: next to tide-control, then the install dir)" },
	{ "dataplane_path", OPT_STR, O(dataplane_path), 0, 0, "", 0, "FILE",
		"tide-dataplane for the local drone (default: next to tide-control)" },
	{ "local_links", OPT_STR, O(local_links), 0, 0, "demo=demo", 0, "LINKS",
		"the local drone's links, NAME=SPEC;... (SPEC: demo, pcap:FILE, vdev:ARGS, "
		"pci:BDF; empty = no local drone)" },
	{ "drone_grace", OPT_DURATION, O(drone_grace), 1, 86400, "30s", 0, "DURATION",
		"how long a drone may stay away before its running captures are failed" },
	{ "max_scripts", OPT_UINT, O(max_scripts), 1, 64, "2", 0, "N",
		"post-processing scripts run at once (more wait, oldest job first)" },
	{ "max_upload", OPT_SIZE, O(max_upload), 1u << 20, 1ull << 42, "1024G", 0, "SIZE",
		"largest file a drone may upload into a dataset" },
	{ "threads", OPT_UINT, O(threads), 2, 1024, "128", 0, "N",
		"HTTP worker threads = connections served at once, keep-alive and slow ones "
		"included (each with its own database connection)" },
	{ "max_body", OPT_SIZE, O(max_body), 1024, 64u << 20, "1M", 0, "SIZE",
		"largest request body accepted (413 above)" },
	{ "session_ttl", OPT_DURATION, O(session_ttl), 60, 30 * 86400, "12h", 0, "DURATION",
		"lifetime of a login session" },
	{ "login_user_failures", OPT_UINT, O(login_user_failures), 1, 1000, "5", 0, "N",
		"failed logins in a row that lock an account" },
	{ "login_addr_failures", OPT_UINT, O(login_addr_failures), 1, 100000, "20", 0, "N",
		"failed logins in a row that lock a client address" },
	{ "login_lockout", OPT_DURATION, O(login_lockout), 1, 86400, "30s", 0, "DURATION",
		"first lock-out; doubles with every further failure" },
	{ "login_lockout_max", OPT_DURATION, O(login_lockout_max), 1, 7 * 86400, "15m", 0,
		"DURATION", "longest single lock-out" },
	{ "login_window", OPT_DURATION, O(login_window), 1, 7 * 86400, "1h", 0, "DURATION",
		"quiet time after which a failure streak is forgotten" },
	{ "login_audit_window", OPT_DURATION, O(login_audit_window), 1, 3600, "1m", 0, "DURATION",
		"refused logins (locked, LDAP down) are audited once per account or address in this "
		"period, with a count" },
	{ "ldap_uri", OPT_STR, O(ldap_uri), 0, 0, "", 0, "URI",
		"LDAP server(s) for sign-in, ldap:// or ldaps:// (empty = local accounts only)" },
	{ "ldap_starttls", OPT_BOOL, O(ldap_starttls), 0, 0, "no", 0, "yes|no",
		"require StartTLS on an ldap:// connection" },
	{ "ldap_ca_file", OPT_STR, O(ldap_ca_file), 0, 0, "", 0, "FILE",
		"PEM CA certificates for ldaps/StartTLS (default: the system's)" },
	{ "ldap_bind_dn", OPT_STR, O(ldap_bind_dn), 0, 0, "", 0, "DN",
		"service account that searches users (empty = anonymous)" },
	{ "ldap_bind_password", OPT_STR, O(ldap_bind_password), 0, 0, "", 0, "PASSWORD",
		"its password (prefer the config file or --ldap-bind-password-file)" },
	{ "ldap_bind_password_file", OPT_STR, O(ldap_bind_password_file), 0, 0, "", 0, "FILE",
		"file whose first line is the service account's password" },
	{ "ldap_base_dn", OPT_STR, O(ldap_base_dn), 0, 0, "", 0, "DN",
		"subtree searched for users" },
	{ "ldap_user_filter", OPT_STR, O(ldap_user_filter), 0, 0, "(uid=%s)", 0, "FILTER",
		"user search; %s = the escaped user name" },
	{ "ldap_group_attr", OPT_STR, O(ldap_group_attr), 0, 0, "memberOf", 0, "ATTR",
		"user attribute listing the user's group DNs" },
	{ "ldap_group_base", OPT_STR, O(ldap_group_base), 0, 0, "", 0, "DN",
		"search groups under this DN instead of reading ldap_group_attr" },
	{ "ldap_group_filter", OPT_STR, O(ldap_group_filter), 0, 0, "(member=%s)", 0, "FILTER",
		"group search; %s = the escaped user DN, %u = the escaped user name" },
	{ "ldap_group_map", OPT_STR, O(ldap_group_map), 0, 0, "", 0, "MAP",
		"LDAP group (DN or CN) = tide group, ';'-separated" },
	{ "ldap_timeout", OPT_DURATION, O(ldap_timeout), 1, 300, "5s", 0, "DURATION",
		"time allowed for one LDAP login; past it the login fails (503)" },
	{ "list_routes", OPT_BOOL, O(list_routes), 0, 0, "no", OPT_CLI_ONLY | OPT_NO_VALUE, NULL,
		"print every route (METHOD PATH PERMISSION) and exit" },
	{ "migrate_to", OPT_UINT, O(migrate_to), 0, 1000000, "0", OPT_CLI_ONLY | OPT_HIDDEN, "N",
		"migrate the database to schema version N and exit (tests, support)" },
	{ "version", OPT_BOOL, O(version), 0, 0, "no", OPT_CLI_ONLY | OPT_NO_VALUE, NULL,
		"print the version and exit" },
	{ "help", OPT_BOOL, O(help), 0, 0, "no", OPT_CLI_ONLY | OPT_NO_VALUE, NULL,
		"this text" },
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static const struct opt_def *
find_by_key(const char *key)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strcmp(opt_defs[i].key, key) == 0)
			return &opt_defs[i];
	return NULL;
}

/* "--data-dir" → the row whose key is "data_dir". */
static const struct opt_def *
find_by_flag(const char *flag, size_t len)
{
	char key[64];
	if (len >= sizeof(key))
		return NULL;
	for (size_t i = 0; i < len; i++)
		key[i] = flag[i] == '-' ? '_' : flag[i];
	key[len] = '\0';
	return find_by_key(key);
}

static int
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

static int
parse_number(const struct opt_def *d, const char *v, uint64_t *out)
{
	uint64_t n;
	if (d->type == OPT_SIZE || d->type == OPT_DURATION) {
		/* the one grammar of sizes and durations (tide_units.h) */
		if ((d->type == OPT_SIZE ? tide_parse_size(v, &n) : tide_parse_duration(v, &n)) < 0)
			return -EINVAL;
	} else {
		char *end;
		if (*v < '0' || *v > '9')
			return -EINVAL;
		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno || *end)
			return -EINVAL;
	}
	if ((d->min || d->max) && (n < d->min || n > d->max))
		return -ERANGE;
	*out = n;
	return 0;
}

static int
set_value(struct cp_options *o, const struct opt_def *d, const char *v, const char *where)
{
	void *field = (char *)o + d->offset;
	int rc = 0;
	switch (d->type) {
	case OPT_STR: {
		char *copy = strdup(v);
		if (!copy)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case OPT_BOOL:
		rc = parse_bool(v, field);
		break;
	case OPT_UINT:
	case OPT_SIZE:
	case OPT_DURATION:
		rc = parse_number(d, v, field);
		break;
	}
	if (rc == -ERANGE)
		fprintf(stderr, "tide-control: %s: %s must be between %llu and %llu\n", where,
			d->key, (unsigned long long)d->min, (unsigned long long)d->max);
	else if (rc)
		fprintf(stderr, "tide-control: %s: bad value for %s: '%s'\n", where, d->key, v);
	return rc ? -EINVAL : 0;
}

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static int
load_config(struct cp_options *o, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "tide-control: cannot open config %s: %s\n", path, strerror(errno));
		return -EINVAL;
	}
	char line[CP_CONFIG_LINE_MAX], where[PATH_MAX + 32];
	int rc = 0;
	for (unsigned lineno = 1; rc == 0 && fgets(line, sizeof(line), f); lineno++) {
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "tide-control: %s: line too long\n", where);
			rc = -EINVAL;
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';' || *s == '[')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr, "tide-control: %s: expected key = value\n", where);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		const struct opt_def *d = find_by_key(key);
		if (!d || (d->flags & OPT_CLI_ONLY)) {
			fprintf(stderr, "tide-control: %s: unknown setting '%s'\n", where, key);
			rc = -EINVAL;
			break;
		}
		rc = set_value(o, d, val, where);
	}
	fclose(f);
	return rc;
}

/* Reads argv into (setting, value) pairs, then applies the configuration file named by
 * --config and after it the rest, so the command line overrides what the file says. */
static int
parse_argv(struct cp_options *o, int argc, char **argv)
{
	const struct opt_def **defs = calloc((size_t)argc, sizeof(*defs));
	const char **vals = calloc((size_t)argc, sizeof(*vals));
	int n = 0, rc = -EINVAL;
	if (!defs || !vals)
		goto out;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "tide-control: unexpected argument '%s'\n", a);
			goto out;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct opt_def *d = find_by_flag(name, len);
		if (!d) {
			fprintf(stderr, "tide-control: unknown option '%s' (see --help)\n", a);
			goto out;
		}
		const char *v;
		if (d->flags & OPT_NO_VALUE) {
			if (eq) {
				fprintf(stderr, "tide-control: %.*s takes no value\n",
					(int)len + 2, a);
				goto out;
			}
			v = "yes";
		} else if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			fprintf(stderr, "tide-control: %s needs a value\n", a);
			goto out;
		}
		defs[n] = d;
		vals[n++] = v;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < n; k++) {
			if ((defs[k]->offset == O(config_path)) != (pass == 0))
				continue;
			if (set_value(o, defs[k], vals[k], "command line"))
				goto out;
		}
		if (pass == 0 && o->config_path[0] && load_config(o, o->config_path))
			goto out;
	}
	rc = 0;
out:
	free(defs);
	free(vals);
	return rc;
}

int
cp_options_parse(struct cp_options *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < N_OPTS; i++)
		if (set_value(o, &opt_defs[i], opt_defs[i].def, "default"))
			return -EINVAL;
	return parse_argv(o, argc, argv);
}

void
cp_options_free(struct cp_options *o)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		if (opt_defs[i].type == OPT_STR) {
			char **field = (char **)((char *)o + opt_defs[i].offset);
			free(*field);
			*field = NULL;
		}
	}
}

void
cp_options_usage(FILE *out)
{
	fprintf(out, "usage: tide-control [options]\n"
		     "The tide control plane (Hive): REST API under /api/v1 and the web console.\n"
		     "Every option can also be set in the --config file as key = value.\n\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *d = &opt_defs[i];
		if (d->flags & OPT_HIDDEN)
			continue;
		char flag[80];
		int n = snprintf(flag, sizeof(flag), "--");
		for (const char *k = d->key; *k && n < 60; k++)
			flag[n++] = *k == '_' ? '-' : *k;
		snprintf(flag + n, sizeof(flag) - (size_t)n, "%s%s", d->arg ? " " : "",
			d->arg ? d->arg : "");
		fprintf(out, "  %-28s %s", flag, d->help);
		if (d->def[0] && !(d->flags & OPT_NO_VALUE))
			fprintf(out, " [%s]", d->def);
		fputc('\n', out);
	}
	fprintf(out, "\nEnvironment: TIDE_ADMIN_PASSWORD sets the first admin password "
		     "(else a random one is printed once).\n");
}
