/* tidectl_config.c — where tidectl's server and token come from: the command line, then
 * TIDE_SERVER / TIDE_TOKEN / TIDE_CACERT, then the config file, then the default server.
 *
 * The config file (~/.config/tide/tidectl.conf, or --config) holds a secret, so it is refused
 * unless it is a regular file owned by the caller and readable by nobody else (0600 or
 * stricter) — the same rule ssh applies to its keys. The token is never printed: errors name
 * where it came from, not what it is. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tidectl.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"

static int
default_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;
	if (xdg && *xdg)
		n = snprintf(buf, len, "%s/tide/tidectl.conf", xdg);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.config/tide/tidectl.conf", home);
	else
		return -1;
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Reads key = value lines into whichever of server/token/cacert is still empty. */
static int
read_config(struct tc_ctx *c, const char *path, bool must_exist)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		tc_err("cannot open the config file %s: %s", path, strerror(errno));
		return errno == ENOENT ? TC_USAGE : TC_ERR;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tc_err("config file %s is not a regular file", path);
		close(fd);
		return TC_AUTH;
	}
	if (st.st_uid != geteuid()) {
		tc_err("config file %s belongs to another user (uid %u); refused", path,
			(unsigned)st.st_uid);
		close(fd);
		return TC_AUTH;
	}
	if (st.st_mode & 077) {
		tc_err("config file %s has mode %04o: it holds a token, so it must be 0600 "
			"(chmod 600 %s); refused", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return TC_AUTH;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return TC_ERR;
	}
	char line[1024];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			tc_err("%s:%d: expected key = value", path, lineno);
			rc = TC_USAGE;
			break;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		if (strcmp(k, "server") == 0) {
			if (!c->server[0])
				snprintf(c->server, sizeof(c->server), "%s", v);
		} else if (strcmp(k, "token") == 0) {
			if (!c->token[0])
				snprintf(c->token, sizeof(c->token), "%s", v);
		} else if (strcmp(k, "cacert") == 0) {
			if (!c->cacert[0])
				snprintf(c->cacert, sizeof(c->cacert), "%s", v);
		} else if (strcmp(k, "insecure") == 0) {
			c->insecure = c->insecure || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0;
		} else if (strcmp(k, "timeout") == 0) {
			if (!c->timeout_s)
				c->timeout_s = atoi(v);
		} else {
			tc_err("%s:%d: unknown key '%s' (server, token, cacert, insecure, timeout)",
				path, lineno, k);
			rc = TC_USAGE;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void
take(char *dst, size_t len, const char *flag, const char *env)
{
	const char *v = flag ? flag : getenv(env);
	if (v && *v && !dst[0])
		snprintf(dst, len, "%s", v);
}

/* A token goes into a header: only the characters tide tokens are made of. */
static bool
token_ok(const char *t)
{
	return *t && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789_-.~+/=") == strlen(t);
}

int
tc_ctx_ready(struct tc_ctx *c, bool need_token)
{
	if (c->ready)
		return need_token && !c->token[0] ? TC_AUTH : 0;
	take(c->server, sizeof(c->server), c->opt_server, "TIDE_SERVER");
	take(c->token, sizeof(c->token), c->opt_token, "TIDE_TOKEN");
	take(c->cacert, sizeof(c->cacert), c->opt_cacert, "TIDE_CACERT");
	if (c->opt_config)
		snprintf(c->config_path, sizeof(c->config_path), "%s", c->opt_config);
	else if (default_path(c->config_path, sizeof(c->config_path)) < 0)
		c->config_path[0] = '\0';
	if (c->opt_config || (c->config_path[0] && (!c->server[0] || !c->token[0]))) {
		int rc = read_config(c, c->config_path, c->opt_config && !c->config_may_be_new);
		if (rc)
			return rc;
	}
	if (!c->server[0])
		snprintf(c->server, sizeof(c->server), "%s", DEFAULT_SERVER);
	if (tc_http_parse_url(c->server, &c->target) != 0) {
		tc_err("bad server URL '%s' (http[s]://host[:port])", c->server);
		return TC_USAGE;
	}
	c->target.cacert = c->cacert[0] ? c->cacert : NULL;
	c->target.insecure = c->insecure;
	c->target.timeout_ms = (c->timeout_s > 0 ? c->timeout_s : 30) * 1000;
	if (c->token[0] && !token_ok(c->token)) {
		tc_err("the token holds characters no tide token has; refused");
		return TC_AUTH;
	}
	c->ready = true;
	if (need_token && !c->token[0]) {
		tc_err("no token: give --token, set TIDE_TOKEN, or put 'token = ...' in %s "
			"(tidectl login writes it)", c->config_path[0] ? c->config_path : "the config file");
		return TC_AUTH;
	}
	return 0;
}

static int
mkdirs(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int
tc_config_save(struct tc_ctx *c, const char *server, const char *token)
{
	const char *path = c->config_path;
	if (!path[0]) {
		tc_err("no config file path (set HOME or give --config)");
		return TC_USAGE;
	}
	char dir[512], tmp[600];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		slash[1] = '\0';
		int rc = mkdirs(dir);
		if (rc) {
			tc_err("cannot create %s: %s", dir, strerror(-rc));
			return TC_ERR;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		tc_err("cannot write %s: %s", tmp, strerror(errno));
		return TC_ERR;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return TC_ERR;
	}
	fprintf(f, "# tidectl configuration: keep it 0600, it holds a token\nserver = %s\n"
		"token = %s\n", server, token);
	if (c->cacert[0])
		fprintf(f, "cacert = %s\n", c->cacert);
	if (c->insecure)
		fputs("insecure = yes\n", f);
	if (fflush(f) != 0 || fsync(fd) != 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
		tc_err("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return TC_ERR;
	}
	return 0;
}
