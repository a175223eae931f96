/* tide_layout.c — the dataset layout (see tide_layout.h). */
#include <stdio.h>
#include <string.h>

#include "tide_layout.h"

static int
fits(int n, size_t size)
{
	return n >= 0 && (size_t)n < size ? 0 : -1;
}

int
tide_layout_shard_dir(char *buf, size_t size, const char *drone, const char *link)
{
	return fits(snprintf(buf, size, TIDE_LAYOUT_SHARDS "/%s/%s", drone, link), size);
}

int
tide_layout_link_manifest(char *buf, size_t size, const char *drone, const char *link)
{
	return fits(snprintf(buf, size, TIDE_LAYOUT_MANIFESTS "/%s/%s.json", drone, link), size);
}

int
tide_layout_capture_flows(char *buf, size_t size, const char *link)
{
	return fits(snprintf(buf, size, TIDE_LAYOUT_FLOWS "/%s.csv", link), size);
}

int
tide_layout_offline_flows(char *buf, size_t size, const char *drone, const char *ext)
{
	return fits(snprintf(buf, size, TIDE_LAYOUT_FLOWS "/%s.%s", drone, ext), size);
}

int
tide_layout_upload_dest(char *buf, size_t size, const char *rel, const char *drone,
	const char *link)
{
	static const char shards[] = TIDE_LAYOUT_SHARDS "/", flows[] = TIDE_LAYOUT_FLOWS "/";
	if (strncmp(rel, shards, sizeof(shards) - 1) == 0)
		return fits(snprintf(buf, size, "%s", rel), size);
	if (strncmp(rel, flows, sizeof(flows) - 1) == 0)
		return fits(snprintf(buf, size, TIDE_LAYOUT_FLOWS "/%s/%s", drone,
			rel + sizeof(flows) - 1), size);
	if (strcmp(rel, TIDE_LAYOUT_MANIFEST) == 0)
		return tide_layout_link_manifest(buf, size, drone, link);
	return -1;
}

enum tide_layout_area
tide_layout_area_of(const char *path, const char *drone, const char **rest)
{
	static const struct {
		const char *name;
		enum tide_layout_area area;
	} areas[] = {
		{ TIDE_LAYOUT_SHARDS, TIDE_AREA_SHARDS },
		{ TIDE_LAYOUT_FLOWS, TIDE_AREA_FLOWS },
		{ TIDE_LAYOUT_MANIFESTS, TIDE_AREA_MANIFESTS },
	};
	size_t dl = strlen(drone);
	for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
		size_t l = strlen(areas[i].name);
		if (strncmp(path, areas[i].name, l) == 0 && path[l] == '/' &&
			strncmp(path + l + 1, drone, dl) == 0 && path[l + 1 + dl] == '/') {
			if (rest)
				*rest = path + l + 1 + dl + 1;
			return areas[i].area;
		}
	}
	return TIDE_AREA_NONE;
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '-' || c == '.';
}

bool
tide_layout_segment_ok(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > TIDE_SEGMENT_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

bool
tide_layout_name_ok(const char *s, size_t len)
{
	return len <= TIDE_NAME_MAX && tide_layout_segment_ok(s, len) && s[0] != '-';
}
