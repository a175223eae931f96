/* cls_port.c — the port classifier: TIE's class_port with a CoralReef-style table
 * (config/ports.txt). A session's ports are a hint, not proof, so rules default to confidence 50;
 * protocol-number rules (ICMP, GRE, ESP/AH, SCTP) are the one place a number is proof.
 *
 * Table lines, '#' starts a comment:
 *   <tcp|udp|sctp|any> <src_port|0> <dst_port|0> <app>[/<sub>] [confidence]
 *   ip <protocol number> <app>[/<sub>] [confidence]
 * A port is a number, a range lo-hi, or 0 for "any port". A rule with one port names a server
 * port: the session's dport is tried first, then its sport, so a reply-direction flow or a
 * session seen first from the server side still matches ("p 0" and "0 p" mean the same port).
 * A rule with two ports is an exact pair, tried as (sport, dport) and then reversed.
 *
 * Precedence, most specific first:
 *   1. a pair rule; 2. a single-port rule on dport, then on sport, except that a dport in the
 *   IANA dynamic range (>= 49152, where clients take ephemeral ports) yields to a hit on sport;
 *   3. the `ip` rule for the protocol number (SCTP with no port rule, ICMP, GRE, IPsec).
 * For one port, a narrower range beats a wider one and tcp/udp/sctp beats any; two rules of
 * equal precedence for the same port are an error naming both lines, so the file cannot say two
 * things at once without the loader noticing.
 *
 * Cost: lookups are array reads plus at most two probe sequences into a pair hash kept at most
 * half full, so O(1) per session. The plugin keeps no per-session state (state_size 0): the
 * session key is all it reads, and it is known at the first packet. The table costs 384 KiB
 * (a 65536-entry uint16_t array per transport), built once by load_signatures(). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cls_apps.h"
#include "cls_file_option.h"
#include "cls_plugin.h"
#include "tide_log.h"

#define PORT_FILE_DEFAULT "ports.txt"
#define PORT_CONF_DEFAULT 50     /* a port is a hint */
#define PORT_IP_CONF_DEFAULT 100 /* a protocol number is the protocol */
#define PORT_DYNAMIC_LO 49152    /* IANA dynamic/private ports: client ephemeral ports */
#define PORT_NPROTO 3            /* transports with ports: tcp, udp, sctp */
#define PORT_MAX_RULES 65535     /* rule references are uint16_t, 0 = none */
#define PORT_PAIR_EXPAND_MAX 4096 /* pairs one line may expand to (range x range x protocols) */
#define PORT_LINE_MAX 512

static const char *const port_proto_name[PORT_NPROTO] = { "tcp", "udp", "sctp" };

struct port_rule {
	uint16_t app_id;
	uint16_t sub_id;
	uint8_t confidence;
	uint8_t any;     /* written for "any": a protocol-specific rule beats it */
	uint32_t width;  /* ports (or pairs) the line covers: the narrower rule wins */
	uint32_t line;
};

/* Pair hash slot; key 0 is empty (keys carry the protocol index + 1 in bits 32..33). */
struct port_pair {
	uint64_t key;
	uint16_t rule;
};

struct port_table {
	uint16_t single[PORT_NPROTO][65536]; /* server port -> rule number (index + 1), 0 none */
	uint16_t by_ip[256];                 /* IP protocol number -> rule number */
	struct port_rule *rules;
	uint32_t n_rules, cap_rules;
	struct port_pair *pairs; /* open addressing, linear probing, load <= 1/2 */
	uint32_t pair_mask;
	uint32_t n_pairs;
	uint32_t n_single_lines, n_pair_lines, n_ip_lines;
	char path[PATH_MAX]; /* where it was loaded from, for dump_statistics() */
};

struct port_ctx {
	const struct cls_apps *apps;
	char default_path[PATH_MAX]; /* "" when there is no config directory */
	struct port_table *t;        /* NULL until a table is loaded: every session is unknown */
};

/* A pair being loaded: collected, sorted, checked for conflicts, then hashed. */
struct port_pending_pair {
	uint64_t key;
	uint16_t rule;
};

static int
port_proto_index(uint8_t ipproto)
{
	switch (ipproto) {
	case 6:
		return 0;
	case 17:
		return 1;
	case 132:
		return 2;
	default:
		return -1;
	}
}

static uint64_t
port_pair_key(int pi, uint16_t sport, uint16_t dport)
{
	return ((uint64_t)(pi + 1) << 32) | ((uint32_t)sport << 16) | dport;
}

static uint32_t
port_pair_hash(uint64_t key, uint32_t mask)
{
	/* Fibonacci hashing: keys differ mostly in their low bits, the multiply spreads them. */
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

static const struct port_rule *
port_pair_find(const struct port_table *t, int pi, uint16_t sport, uint16_t dport)
{
	uint64_t key = port_pair_key(pi, sport, dport);

	/* The hash is at most half full, so a probe sequence ends at an empty slot quickly. */
	for (uint32_t h = port_pair_hash(key, t->pair_mask);; h = (h + 1) & t->pair_mask) {
		if (t->pairs[h].key == key)
			return &t->rules[t->pairs[h].rule - 1];
		if (t->pairs[h].key == 0)
			return NULL;
	}
}

static const struct port_rule *
port_lookup(const struct port_table *t, uint8_t ipproto, uint16_t sport, uint16_t dport)
{
	int pi = port_proto_index(ipproto);

	if (pi >= 0) {
		const struct port_rule *r = NULL;

		if (t->n_pairs) {
			r = port_pair_find(t, pi, sport, dport);
			if (!r)
				r = port_pair_find(t, pi, dport, sport);
			if (r)
				return r;
		}
		uint16_t d = t->single[pi][dport], s = t->single[pi][sport];
		if (d && s && dport >= PORT_DYNAMIC_LO && sport < PORT_DYNAMIC_LO)
			d = 0;
		if (d)
			return &t->rules[d - 1];
		if (s)
			return &t->rules[s - 1];
	}
	return t->by_ip[ipproto] ? &t->rules[t->by_ip[ipproto] - 1] : NULL;
}

/* ---- loading ---- */

static void
port_table_free(struct port_table *t)
{
	if (!t)
		return;
	free(t->rules);
	free(t->pairs);
	free(t);
}

/* Lower is more specific: the width first, then a protocol-specific rule before "any". */
static uint64_t
port_rank(const struct port_rule *r)
{
	return ((uint64_t)r->width << 1) | r->any;
}

/* Strict decimal in [lo, hi]: no sign, no trailing characters. */
static bool
port_number(const char *s, size_t len, unsigned long lo, unsigned long hi, unsigned long *v)
{
	unsigned long n = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	if (n < lo || n > hi)
		return false;
	*v = n;
	return true;
}

/* "0" (any port), "p" or "lo-hi"; ranges start at 1 because 0 is the wildcard. */
static const char *
port_spec(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');
	unsigned long a, b;

	if (!dash) {
		if (!port_number(s, strlen(s), 0, 65535, &a))
			return "port must be 0-65535 or a range lo-hi";
		*lo = *hi = (uint16_t)a;
		return NULL;
	}
	if (!port_number(s, (size_t)(dash - s), 1, 65535, &a) ||
		!port_number(dash + 1, strlen(dash + 1), 1, 65535, &b))
		return "range must be lo-hi with 1 <= lo <= hi <= 65535";
	if (a > b)
		return "range must be lo-hi with 1 <= lo <= hi <= 65535";
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return NULL;
}

/* "<app>[/<sub>]" to ids through the application table. */
static const char *
port_app(const struct cls_apps *apps, const char *name, uint16_t *app, uint16_t *sub)
{
	char base[64];
	const char *slash = strchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : strlen(name);

	if (n == 0 || n >= sizeof(base))
		return "unknown application";
	memcpy(base, name, n);
	base[n] = '\0';
	*app = cls_apps_id(apps, base);
	if (*app == 0)
		return "unknown application";
	*sub = 0;
	/* the table names some subs "App/Sub" and others just "Sub": accept either spelling */
	if (slash && !(*sub = cls_apps_sub_id(apps, *app, name)) &&
		!(*sub = cls_apps_sub_id(apps, *app, slash + 1)))
		return "unknown sub-application";
	return NULL;
}

static int
port_add_rule(struct port_table *t, const struct port_rule *r)
{
	if (t->n_rules == PORT_MAX_RULES)
		return -E2BIG;
	if (t->n_rules == t->cap_rules) {
		uint32_t cap = t->cap_rules ? t->cap_rules * 2 : 128;
		struct port_rule *nr;

		if (cap > PORT_MAX_RULES)
			cap = PORT_MAX_RULES;
		nr = realloc(t->rules, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		t->rules = nr;
		t->cap_rules = cap;
	}
	t->rules[t->n_rules++] = *r;
	return (int)t->n_rules; /* rule number, index + 1 */
}

/* Sets one slot to rule `num` unless a more specific rule holds it; equal rank is a conflict,
 * reported with the earlier line. */
static uint32_t
port_claim(struct port_table *t, uint16_t *slot, uint16_t num)
{
	uint64_t mine = port_rank(&t->rules[num - 1]);

	if (*slot) {
		uint64_t theirs = port_rank(&t->rules[*slot - 1]);

		if (theirs == mine)
			return t->rules[*slot - 1].line;
		if (theirs < mine)
			return 0;
	}
	*slot = num;
	return 0;
}

static int
port_pending_cmp(const void *a, const void *b)
{
	const struct port_pending_pair *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static void __attribute__((format(printf, 3, 4)))
port_err(const char *path, uint32_t line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tide_error("port", "%s:%u: %s", path, line, msg);
}

/* Sorts the pending pairs, keeps the most specific for each key (an equal-rank duplicate is an
 * error naming both lines), and builds the hash. */
static int
port_build_pairs(struct port_table *t, struct port_pending_pair *pp, uint32_t n, const char *path)
{
	uint32_t kept = 0, cap = 16;

	qsort(pp, n, sizeof(*pp), port_pending_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (kept && pp[kept - 1].key == pp[i].key) {
			const struct port_rule *a = &t->rules[pp[kept - 1].rule - 1];
			const struct port_rule *b = &t->rules[pp[i].rule - 1];

			if (port_rank(a) == port_rank(b)) {
				const struct port_rule *late = a->line > b->line ? a : b;
				const struct port_rule *early = late == a ? b : a;

				port_err(path, late->line, "pair conflicts with line %u (same "
					"precedence)", early->line);
				return -EINVAL;
			}
			if (port_rank(b) < port_rank(a))
				pp[kept - 1] = pp[i];
			continue;
		}
		pp[kept++] = pp[i];
	}
	while (cap < kept * 2)
		cap *= 2;
	t->pairs = calloc(cap, sizeof(*t->pairs));
	if (!t->pairs)
		return -ENOMEM;
	t->pair_mask = cap - 1;
	for (uint32_t i = 0; i < kept; i++) {
		uint32_t h = port_pair_hash(pp[i].key, t->pair_mask);

		while (t->pairs[h].key)
			h = (h + 1) & t->pair_mask;
		t->pairs[h].key = pp[i].key;
		t->pairs[h].rule = pp[i].rule;
	}
	t->n_pairs = kept;
	return 0;
}

/* One table line (comment already cut). Returns 0, or -errno with the reason printed. */
static int
port_parse_line(struct port_table *t, const struct cls_apps *apps, char *line, uint32_t lineno,
	const char *path, struct port_pending_pair **pp, uint32_t *n_pp, uint32_t *cap_pp)
{
	char *tok[7];
	int n = 0;
	const char *why = NULL;
	struct port_rule r = { .line = lineno };
	unsigned long v;

	for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w;
		w = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 6) {
			port_err(path, lineno, "too many fields");
			return -EINVAL;
		}
		tok[n++] = w;
	}
	if (n == 0)
		return 0;

	if (strcasecmp(tok[0], "ip") == 0) {
		if (n < 3 || n > 4) {
			port_err(path, lineno, "expected 'ip <protocol> <app>[/<sub>] [confidence]'");
			return -EINVAL;
		}
		unsigned long conf = PORT_IP_CONF_DEFAULT;

		if (!port_number(tok[1], strlen(tok[1]), 1, 255, &v)) {
			port_err(path, lineno, "IP protocol must be 1-255, not '%s'", tok[1]);
			return -EINVAL;
		}
		if ((why = port_app(apps, tok[2], &r.app_id, &r.sub_id))) {
			port_err(path, lineno, "%s '%s'", why, tok[2]);
			return -EINVAL;
		}
		if (n == 4 && !port_number(tok[3], strlen(tok[3]), 1, 100, &conf)) {
			port_err(path, lineno, "confidence must be 1-100, not '%s'", tok[3]);
			return -EINVAL;
		}
		r.confidence = (uint8_t)conf;
		r.width = 1;
		if (t->by_ip[v]) {
			port_err(path, lineno, "IP protocol %lu already has a rule at line %u", v,
				t->rules[t->by_ip[v] - 1].line);
			return -EINVAL;
		}
		int num = port_add_rule(t, &r);
		if (num < 0)
			return num;
		t->by_ip[v] = (uint16_t)num;
		t->n_ip_lines++;
		return 0;
	}

	if (n < 4 || n > 5) {
		port_err(path, lineno, "expected '<tcp|udp|sctp|any> <src_port|0> <dst_port|0> "
			"<app>[/<sub>] [confidence]'");
		return -EINVAL;
	}
	int pfirst, plast;
	if (strcasecmp(tok[0], "any") == 0) {
		pfirst = 0;
		plast = PORT_NPROTO - 1;
		r.any = 1;
	} else {
		pfirst = -1;
		for (int i = 0; i < PORT_NPROTO; i++)
			if (strcasecmp(tok[0], port_proto_name[i]) == 0)
				pfirst = i;
		if (pfirst < 0) {
			port_err(path, lineno, "unknown protocol '%s' (tcp, udp, sctp, any or ip)",
				tok[0]);
			return -EINVAL;
		}
		plast = pfirst;
	}
	uint16_t slo, shi, dlo, dhi;
	unsigned long c = PORT_CONF_DEFAULT;
	if ((why = port_spec(tok[1], &slo, &shi)) || (why = port_spec(tok[2], &dlo, &dhi))) {
		port_err(path, lineno, "%s", why);
		return -EINVAL;
	}
	if (slo == 0 && dlo == 0) {
		port_err(path, lineno, "both ports are wildcards (use 'ip <protocol>' for a "
			"protocol rule)");
		return -EINVAL;
	}
	if ((why = port_app(apps, tok[3], &r.app_id, &r.sub_id))) {
		port_err(path, lineno, "%s '%s'", why, tok[3]);
		return -EINVAL;
	}
	if (n == 5 && !port_number(tok[4], strlen(tok[4]), 1, 100, &c)) {
		port_err(path, lineno, "confidence must be 1-100, not '%s'", tok[4]);
		return -EINVAL;
	}
	r.confidence = (uint8_t)c;

	uint32_t sw = (uint32_t)(shi - slo) + 1, dw = (uint32_t)(dhi - dlo) + 1;
	if (slo && dlo) {
		uint64_t total = (uint64_t)sw * dw * (uint32_t)(plast - pfirst + 1);

		if (total > PORT_PAIR_EXPAND_MAX) {
			port_err(path, lineno, "pair ranges expand to more than %u pairs",
				PORT_PAIR_EXPAND_MAX);
			return -EINVAL;
		}
		r.width = (uint32_t)(sw * dw);
		int num = port_add_rule(t, &r);
		if (num < 0)
			return num;
		if (*n_pp + total > *cap_pp) {
			uint32_t cap = (*cap_pp ? *cap_pp : 256);
			struct port_pending_pair *np;

			while (cap < *n_pp + total)
				cap *= 2;
			np = realloc(*pp, cap * sizeof(*np));
			if (!np)
				return -ENOMEM;
			*pp = np;
			*cap_pp = cap;
		}
		for (int pi = pfirst; pi <= plast; pi++)
			for (uint32_t sp = slo; sp <= shi; sp++)
				for (uint32_t dp = dlo; dp <= dhi; dp++) {
					struct port_pending_pair *e = &(*pp)[(*n_pp)++];

					e->key = port_pair_key(pi, (uint16_t)sp, (uint16_t)dp);
					e->rule = (uint16_t)num;
				}
		t->n_pair_lines++;
		return 0;
	}

	uint16_t lo = slo ? slo : dlo, hi = slo ? shi : dhi;
	r.width = (uint32_t)(hi - lo) + 1;
	int num = port_add_rule(t, &r);
	if (num < 0)
		return num;
	for (int pi = pfirst; pi <= plast; pi++)
		for (uint32_t p = lo; p <= hi; p++) {
			uint32_t other = port_claim(t, &t->single[pi][p], (uint16_t)num);

			if (other) {
				port_err(path, lineno, "%s port %u conflicts with line %u (same "
					"precedence)", port_proto_name[pi], p, other);
				return -EINVAL;
			}
		}
	t->n_single_lines++;
	return 0;
}

static int
port_load(const struct cls_apps *apps, const char *path, struct port_table **out)
{
	FILE *f = fopen(path, "r");
	struct port_table *t;
	struct port_pending_pair *pp = NULL;
	uint32_t n_pp = 0, cap_pp = 0, lineno = 0;
	char line[PORT_LINE_MAX];
	int rc = 0;

	if (!f) {
		rc = -errno;
		tide_error("port", "%s: %s", path, strerror(errno));
		return rc;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		fclose(f);
		return -ENOMEM;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			port_err(path, lineno, "line longer than %d bytes", PORT_LINE_MAX - 1);
			rc = -EINVAL;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		rc = port_parse_line(t, apps, line, lineno, path, &pp, &n_pp, &cap_pp);
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc == 0 && n_pp)
		rc = port_build_pairs(t, pp, n_pp, path);
	free(pp);
	if (rc == -ENOMEM || rc == -E2BIG)
		tide_error("port", "%s: %s", path, strerror(-rc));
	if (rc) {
		port_table_free(t);
		return rc;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	*out = t;
	return 0;
}

/* ---- plugin functions ---- */

/* Checks the settings and remembers where the table is; load_signatures() reads it, as in TIE.
 * options: "file=<path>" overrides <config_dir>/ports.txt. */
static int
port_enable(void **ctxp, const struct cls_config *cfg)
{
	struct port_ctx *c;

	if (!cfg || !cfg->apps)
		return -EINVAL;
	char path[sizeof(((struct port_ctx *)0)->default_path)];
	int rc = cls_file_option(cfg, "cls_port", PORT_FILE_DEFAULT, path, sizeof(path));
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->apps = cfg->apps;
	memcpy(c->default_path, path, sizeof(path));
	*ctxp = c;
	return 0;
}

static void
port_disable(void *ctx)
{
	struct port_ctx *c = ctx;

	if (!c)
		return;
	port_table_free(c->t);
	free(c);
}

/* Loads the table from path (NULL: the "file" option, else <config_dir>/ports.txt), replacing
 * the current one; on any error the current table stays and the reason is printed with its
 * file:line. Call before workers start: they read the table without locks. */
static int
port_load_signatures(void *ctx, const char *path)
{
	struct port_ctx *c = ctx;
	struct port_table *t = NULL;
	int rc;

	if (!path)
		path = c->default_path;
	if (!path[0])
		return -EINVAL;
	rc = port_load(c->apps, path, &t);
	if (rc)
		return rc;
	port_table_free(c->t);
	c->t = t;
	return 0;
}

static bool
port_is_session_classifiable(void *ctx, void *state, const struct cls_session *s)
{
	(void)ctx;
	(void)state;
	(void)s;
	return true; /* the key is all we read, and it exists from the first packet */
}

static void
port_classify_session(void *ctx, void *state, const struct cls_session *s,
	struct cls_result *out)
{
	const struct port_ctx *c = ctx;
	const struct port_rule *r = NULL;

	(void)state;
	if (c->t && s->type != CLS_SESSION_HOST)
		r = port_lookup(c->t, s->key.proto, s->key.sport, s->key.dport);
	out->label[0] = '\0';
	if (r) {
		out->app_id = r->app_id;
		out->sub_id = r->sub_id;
		out->confidence = r->confidence;
		out->flags = CLS_RES_FINAL;
	} else {
		out->app_id = 0;
		out->sub_id = 0;
		out->confidence = 0;
		out->flags = CLS_RES_FINAL | CLS_RES_GAVE_UP;
	}
}

static int
port_dump_statistics(void *ctx, FILE *out)
{
	const struct port_ctx *c = ctx;
	const struct port_table *t = c->t;

	if (!t)
		return fprintf(out, "port: no table loaded\n") < 0 ? -EIO : 0;
	return fprintf(out, "port: %u rules (%u single-port, %u pair, %u ip) from %s, %u pairs\n",
		       t->n_rules, t->n_single_lines, t->n_pair_lines, t->n_ip_lines,
		       t->path, t->n_pairs) < 0 ? -EIO : 0;
}

const struct cls_plugin cls_plugin_port = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_PORT,
	.name = "port",
	.version = "1.0.0",
	.state_size = 0,
	.needs = 0,
	.enable = port_enable,
	.disable = port_disable,
	.load_signatures = port_load_signatures,
	.is_session_classifiable = port_is_session_classifiable,
	.classify_session = port_classify_session,
	.dump_statistics = port_dump_statistics,
};
