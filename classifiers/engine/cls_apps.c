/* cls_apps.c — loads and queries the application table (see cls_apps.h). A few hundred entries
 * at most: linear lookups at load and output time are fine; nothing here is per packet. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cls_apps.h"

struct cls_app_entry {
	uint16_t app_id, sub_id;
	char name[64];
	char group[64];
};

struct cls_apps {
	size_t n, cap;
	struct cls_app_entry *e;
};

static const struct cls_app_entry *
find(const struct cls_apps *a, uint16_t app, uint16_t sub)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (a->e[i].app_id == app && a->e[i].sub_id == sub)
			return &a->e[i];
	return NULL;
}

struct cls_apps *
cls_apps_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct cls_apps *a = calloc(1, sizeof(*a));
	char line[512];
	unsigned int lineno = 0;
	while (a && fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		unsigned int app, sub;
		char name[64], group[64];
		int n = sscanf(line, "%u %u %63s %63s", &app, &sub, name, group);
		if (n <= 0)
			continue;
		const char *why = NULL;
		if (n != 4)
			why = "expected '<app_id> <sub_id> <name> <group>'";
		else if (app > 65535 || sub > 65535)
			why = "id out of range";
		else if (strlen(name) >= sizeof(a->e->name) || strlen(group) >= sizeof(a->e->group))
			why = "name or group too long";
		else if (find(a, (uint16_t)app, (uint16_t)sub))
			why = "duplicate id";
		else if (sub != 0 && !find(a, (uint16_t)app, 0))
			why = "sub-application before its application";
		for (size_t i = 0; !why && i < a->n; i++)
			if (strcasecmp(a->e[i].name, name) == 0)
				why = "duplicate name";
		if (why) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			cls_apps_free(a);
			fclose(f);
			return NULL;
		}
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;
			struct cls_app_entry *e = realloc(a->e, cap * sizeof(*e));
			if (!e) {
				cls_apps_free(a);
				a = NULL;
				break;
			}
			a->e = e;
			a->cap = cap;
		}
		struct cls_app_entry *e = &a->e[a->n++];
		e->app_id = (uint16_t)app;
		e->sub_id = (uint16_t)sub;
		snprintf(e->name, sizeof(e->name), "%s", name);
		snprintf(e->group, sizeof(e->group), "%s", group);
	}
	fclose(f);
	if (!a)
		snprintf(err, errlen, "%s: out of memory", path);
	return a;
}

void
cls_apps_free(struct cls_apps *a)
{
	if (!a)
		return;
	free(a->e);
	free(a);
}

uint16_t
cls_apps_id(const struct cls_apps *a, const char *name)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (a->e[i].sub_id == 0 && strcasecmp(a->e[i].name, name) == 0)
			return a->e[i].app_id;
	return 0;
}

uint16_t
cls_apps_sub_id(const struct cls_apps *a, uint16_t app_id, const char *sub_name)
{
	const char *slash = strchr(sub_name, '/');
	for (size_t i = 0; a && i < a->n; i++) {
		const struct cls_app_entry *e = &a->e[i];
		if (e->app_id != app_id || e->sub_id == 0)
			continue;
		if (strcasecmp(e->name, sub_name) == 0)
			return e->sub_id;
		const char *es = strchr(e->name, '/');
		if (!slash && es && strcasecmp(es + 1, sub_name) == 0)
			return e->sub_id;
	}
	return 0;
}

const char *
cls_apps_name(const struct cls_apps *a, uint16_t app_id, uint16_t sub_id)
{
	const struct cls_app_entry *e = find(a, app_id, sub_id);
	if (!e && sub_id)
		e = find(a, app_id, 0);
	return e ? e->name : "unknown";
}

const char *
cls_apps_group(const struct cls_apps *a, uint16_t app_id)
{
	const struct cls_app_entry *e = find(a, app_id, 0);
	return e ? e->group : "";
}

size_t
cls_apps_count(const struct cls_apps *a)
{
	return a ? a->n : 0;
}
