/* cls_services.c — loads and queries the service table (see cls_services.h).
 *
 * Suffixes live in one open-addressing hash (FNV-1a of the lower-case suffix, linear probing,
 * at most half full), built once at load. A host is matched by walking its dots from the left:
 * the whole name first, then each shorter suffix after a dot, so the first hit is the longest
 * matching suffix and a hit always starts on a label boundary. A host has at most 128 labels,
 * so a match costs at most that many probes; in practice three or four. Services are a few
 * hundred at most: name lookups are linear. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cls_services.h"

#define HOST_MAX 255        /* a DNS name's longest text form */
#define LINE_MAX_LEN 4096

struct svc_entry {
	uint16_t id;
	char name[CLS_SERVICE_NAME_MAX];
};

struct svc_suffix {
	char *text;                 /* lower case, no trailing dot; NULL: free slot */
	uint16_t id;
};

struct cls_services {
	size_t n, cap;
	struct svc_entry *e;
	size_t n_suffix, suffix_cap;
	struct svc_suffix *suffix;  /* in load order, then moved into `slot` */
	size_t n_slots;             /* power of two, >= 2 x n_suffix */
	struct svc_suffix *slot;
	uint16_t max_id;
};

static uint32_t
fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

/* the slot holding suffix s[0..n), or the free slot where it would go */
static struct svc_suffix *
probe(const struct cls_services *t, const char *s, size_t n)
{
	size_t mask = t->n_slots - 1;
	for (size_t k = fnv1a(s, n) & mask;; k = (k + 1) & mask) {
		struct svc_suffix *x = &t->slot[k];
		if (!x->text || (strncmp(x->text, s, n) == 0 && x->text[n] == '\0'))
			return x;
	}
}

static const struct svc_entry *
by_id(const struct cls_services *t, uint16_t id)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (t->e[i].id == id)
			return &t->e[i];
	return NULL;
}

static const struct svc_entry *
by_name(const struct cls_services *t, const char *name)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (strcasecmp(t->e[i].name, name) == 0)
			return &t->e[i];
	return NULL;
}

/* A suffix as written in the file, lower-cased into out; NULL if fine, else why not. */
static const char *
check_suffix(const char *tok, char *out, size_t outlen)
{
	size_t n = strlen(tok);
	if (n && tok[n - 1] == '.')
		n--; /* "google.com." is "google.com" */
	if (n == 0 || n > HOST_MAX || n >= outlen)
		return "a domain suffix must be 1..255 characters";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tok[i];
		if (c == '.') {
			if (i == 0 || tok[i - 1] == '.')
				return "empty label in a domain suffix";
		} else if (!isalnum(c) && c != '-' && c != '_') {
			return "a domain suffix has letters, digits, '-', '_' and dots only";
		}
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return NULL;
}

static int
add_service(struct cls_services *t, uint16_t id, const char *name)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct svc_entry *e = realloc(t->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->e = e;
		t->cap = cap;
	}
	t->e[t->n].id = id;
	snprintf(t->e[t->n].name, sizeof(t->e[t->n].name), "%s", name);
	t->n++;
	if (id > t->max_id)
		t->max_id = id;
	return 0;
}

static int
add_suffix(struct cls_services *t, uint16_t id, const char *text)
{
	if (t->n_suffix == t->suffix_cap) {
		size_t cap = t->suffix_cap ? t->suffix_cap * 2 : 256;
		struct svc_suffix *s = realloc(t->suffix, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		t->suffix = s;
		t->suffix_cap = cap;
	}
	char *dup = strdup(text);
	if (!dup)
		return -ENOMEM;
	t->suffix[t->n_suffix].text = dup;
	t->suffix[t->n_suffix].id = id;
	t->n_suffix++;
	return 0;
}

/* Move the suffixes into the hash; a suffix seen twice is refused (its line returned). */
static int
build_hash(struct cls_services *t, size_t *dup_index)
{
	size_t n = 16;
	while (n < 2 * t->n_suffix)
		n *= 2;
	t->slot = calloc(n, sizeof(*t->slot));
	if (!t->slot)
		return -ENOMEM;
	t->n_slots = n;
	for (size_t i = 0; i < t->n_suffix; i++) {
		struct svc_suffix *x = probe(t, t->suffix[i].text, strlen(t->suffix[i].text));
		if (x->text) {
			*dup_index = i;
			return -EEXIST;
		}
		*x = t->suffix[i];
	}
	return 0;
}

struct cls_services *
cls_services_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	struct cls_services *t = calloc(1, sizeof(*t));
	/* the line each suffix came from, for the duplicate check after loading */
	unsigned int *suffix_line = NULL;
	size_t suffix_line_cap = 0;
	char *line = malloc(LINE_MAX_LEN);
	unsigned int lineno = 0;
	const char *why = NULL;
	int rc = t && line ? 0 : -ENOMEM;
	while (rc == 0 && !why && fgets(line, LINE_MAX_LEN, f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == LINE_MAX_LEN - 1 && line[len - 1] != '\n' && !feof(f)) {
			why = "line too long (a service may continue on lines repeating its id and name)";
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		if (!tok)
			continue;
		char *end;
		unsigned long id = strtoul(tok, &end, 10);
		char *name = strtok_r(NULL, " \t\r\n", &save);
		if (*end || !isdigit((unsigned char)tok[0]) || !name) {
			why = "expected '<id> <Name> <domain suffix>...'";
			break;
		}
		if (id == 0 || id > 65535) {
			why = "service id must be 1..65535";
			break;
		}
		if (strlen(name) >= CLS_SERVICE_NAME_MAX) {
			why = "service name longer than 31 characters";
			break;
		}
		if (name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789-_.+")]) {
			why = "a service name has letters, digits, '-', '_', '.' and '+' only";
			break;
		}
		if (strcasecmp(name, "unknown") == 0) {
			why = "'unknown' is reserved (sessions without a service)";
			break;
		}
		const struct svc_entry *same_id = by_id(t, (uint16_t)id);
		const struct svc_entry *same_name = by_name(t, name);
		if (same_id != same_name) {
			why = same_name ? "service name already used by another id" :
				"service id already used by another name";
			break;
		}
		if (!same_id)
			rc = add_service(t, (uint16_t)id, name);
		bool any = false;
		while (rc == 0 && (tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			char text[HOST_MAX + 1];
			why = check_suffix(tok, text, sizeof(text));
			if (why)
				break;
			if (t->n_suffix == suffix_line_cap) {
				size_t cap = suffix_line_cap ? suffix_line_cap * 2 : 256;
				unsigned int *l = realloc(suffix_line, cap * sizeof(*l));
				if (!l) {
					rc = -ENOMEM;
					break;
				}
				suffix_line = l;
				suffix_line_cap = cap;
			}
			suffix_line[t->n_suffix] = lineno;
			rc = add_suffix(t, (uint16_t)id, text);
			any = true;
		}
		if (rc == 0 && !why && !any)
			why = "a service needs at least one domain suffix";
	}
	fclose(f);
	free(line);
	if (rc == 0 && !why) {
		size_t dup = 0;
		rc = build_hash(t, &dup);
		if (rc == -EEXIST) {
			lineno = suffix_line[dup];
			why = "domain suffix listed twice";
			rc = 0;
		}
	}
	free(suffix_line);
	if (rc == 0 && !why) {
		free(t->suffix); /* the strings now belong to the hash */
		t->suffix = NULL;
		t->n_suffix = 0;
		return t;
	}
	if (why)
		snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
	else
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	cls_services_free(t);
	errno = why ? EINVAL : -rc;
	return NULL;
}

void
cls_services_free(struct cls_services *t)
{
	if (!t)
		return;
	if (t->suffix) { /* still loading: the strings are in the list (the hash shares some) */
		for (size_t i = 0; i < t->n_suffix; i++)
			free(t->suffix[i].text);
	} else {
		for (size_t i = 0; i < t->n_slots; i++)
			free(t->slot[i].text);
	}
	free(t->suffix);
	free(t->slot);
	free(t->e);
	free(t);
}

uint16_t
cls_services_id(const struct cls_services *t, const char *name)
{
	const struct svc_entry *e = name ? by_name(t, name) : NULL;
	return e ? e->id : 0;
}

const char *
cls_services_name(const struct cls_services *t, uint16_t id)
{
	const struct svc_entry *e = id ? by_id(t, id) : NULL;
	return e ? e->name : "";
}

uint16_t
cls_services_match(const struct cls_services *t, const char *host)
{
	if (!t || !host || !t->n_slots)
		return 0;
	char h[HOST_MAX + 1];
	size_t n = 0;
	for (; host[n] && n < HOST_MAX; n++)
		h[n] = (char)tolower((unsigned char)host[n]);
	if (host[n])
		return 0; /* longer than any DNS name: not a host name */
	if (n && h[n - 1] == '.')
		n--;
	h[n] = '\0';
	for (size_t at = 0; at < n;) {
		const struct svc_suffix *x = probe(t, h + at, n - at);
		if (x->text)
			return x->id;
		const char *dot = memchr(h + at, '.', n - at);
		if (!dot)
			break;
		at = (size_t)(dot - h) + 1;
	}
	return 0;
}

uint16_t
cls_services_max_id(const struct cls_services *t)
{
	return t ? t->max_id : 0;
}

size_t
cls_services_count(const struct cls_services *t)
{
	return t ? t->n : 0;
}
