/* cp_manifest.c — manifest.json from the database and processed/, and the captures' own
 * manifests read back for their counters (see cp_manifest.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cp_dataset.h"
#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_job_contract.h"
#include "tide_log.h"
#include "cp_manifest.h"
#include "tide_layout.h"
#include "tide_fs.h"

#define PROCESSED_FILES_MAX 100000 /* listed in one manifest; more are counted, not listed */
#define HASH_CHUNK (256 * 1024)

static const char sql_job[] =
	"SELECT name, description, owner, created_at, started_at, ended_at, state, reason,"
	" counters, " CP_JOB_PARAMS_COLUMNS " FROM jobs WHERE id = ?1";
static const char sql_links[] =
	"SELECT drone, link, state, reason, counters FROM job_links WHERE job_id = ?1"
	" ORDER BY drone, link";
static const char sql_files[] =
	"SELECT path, size, sha256, drone FROM job_files WHERE job_id = ?1 ORDER BY path";
static const char sql_link_manifest[] =
	"SELECT path FROM job_files WHERE job_id = ?1"
	" AND path = ?2 COLLATE NOCASE";
static const char sql_link_counters[] =
	"UPDATE job_links SET counters = ?4 WHERE job_id = ?1 AND drone = ?2 AND link = ?3";

/* Every regular file below dir (relative path rel), by the dataset's rules: no dot-names, no
 * symlinks followed, at most CP_DATASET_DEPTH levels. */
static void
walk(int dfd, const char *rel, int depth, json_t *files, int *skipped)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", rel, e->d_name) >= sizeof(path))
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) != 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (S_ISDIR(sb.st_mode) && depth < CP_DATASET_DEPTH) {
			walk(fd, path, depth + 1, files, skipped);
			continue;
		}
		char hex[65];
		uint64_t size;
		if (S_ISREG(sb.st_mode) && json_array_size(files) < PROCESSED_FILES_MAX &&
			tide_sha256_fd(fd, hex, &size) == 0)
			json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "file", path,
				"size", (json_int_t)size, "sha256", hex));
		else if (S_ISREG(sb.st_mode))
			(*skipped)++;
		close(fd);
	}
	closedir(d);
}

static int
write_atomically(const char *dir, json_t *m)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
	snprintf(path, sizeof(path), "%s/" TIDE_LAYOUT_MANIFEST, dir);
	snprintf(tmp, sizeof(tmp), "%s/.manifest.json.tmp", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	char *text = json_dumps(m, JSON_INDENT(2));
	size_t len = text ? strlen(text) : 0;
	int rc = fd >= 0 && text && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0 ?
		0 : -EIO;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	} else {
		unlink(tmp);
	}
	free(text);
	return rc;
}

int
cp_manifest_write(struct cp_db *db, const char *data_dir, int64_t job)
{
	char dir[PATH_MAX];
	if (cp_drone_job_path(data_dir, job, "", dir, sizeof(dir)))
		return -ENAMETOOLONG;
	mkdir(dir, 0755);
	json_t *m = json_object(), *links = json_array(), *files = json_array();
	sqlite3_stmt *st = cp_db_stmt(db, sql_job);
	int rc = st ? 0 : -EIO;
	if (st) {
		sqlite3_bind_int64(st, 1, job);
		if (sqlite3_step(st) == SQLITE_ROW) {
#define T(i) ((const char *)sqlite3_column_text(st, i))
			struct tide_job params;
			cp_job_params_read(st, 9, &params);
			json_t *jo = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t)job,
				"name", T(0), "description", T(1), "owner", T(2), "created_at",
				(json_int_t)sqlite3_column_int64(st, 3), "started_at",
				(json_int_t)sqlite3_column_int64(st, 4));
			json_t *pj = tide_job_to_json(&params);
			json_object_update(jo, pj);
			json_decref(pj);
			json_object_set_new(m, "job", jo);
			json_object_set_new(m, "state", json_string(T(6)));
			json_object_set_new(m, "reason", json_string(T(7)));
			json_object_set_new(m, "ended_at", json_integer(sqlite3_column_int64(st, 5)));
			json_t *c = json_loads(T(8), 0, NULL);
			json_object_set_new(m, "counters", json_is_object(c) ? c : json_object());
			if (!json_is_object(c))
				json_decref(c);
#undef T
		} else {
			rc = -ENOENT;
		}
		sqlite3_reset(st);
	}
	json_object_set_new(m, "format", json_string(CP_MANIFEST_FORMAT));
	st = rc == 0 ? cp_db_stmt(db, sql_links) : NULL;
	if (st) {
		sqlite3_bind_int64(st, 1, job);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char man[160];
			tide_layout_link_manifest(man, sizeof(man),
				(const char *)sqlite3_column_text(st, 0),
				(const char *)sqlite3_column_text(st, 1));
			json_t *c = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
			json_array_append_new(links, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}",
				"drone", sqlite3_column_text(st, 0), "link", sqlite3_column_text(st, 1),
				"state", sqlite3_column_text(st, 2), "reason", sqlite3_column_text(st, 3),
				"counters", c ? c : json_null(), "manifest", man));
		}
		sqlite3_reset(st);
	}
	json_object_set_new(m, "links", links);
	st = rc == 0 ? cp_db_stmt(db, sql_files) : NULL;
	if (st) {
		sqlite3_bind_int64(st, 1, job);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:s}", "file",
				sqlite3_column_text(st, 0), "size",
				(json_int_t)sqlite3_column_int64(st, 1), "sha256",
				sqlite3_column_text(st, 2), "drone", sqlite3_column_text(st, 3)));
		sqlite3_reset(st);
	}
	/* what the post-processing script left, hashed here (it came from no drone) */
	int skipped = 0, pfd = -1, dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		pfd = openat(dfd, TIDE_LAYOUT_PROCESSED, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC);
	if (pfd >= 0)
		walk(pfd, TIDE_LAYOUT_PROCESSED, 1, files, &skipped);
	if (dfd >= 0)
		close(dfd);
	if (skipped)
		json_object_set_new(m, "files_not_listed", json_integer(skipped));
	json_object_set_new(m, "files", files);
	if (rc == 0)
		rc = write_atomically(dir, m);
	if (rc)
		tide_error("manifest", "job %lld: cannot write manifest.json: %s", (long long)job,
			strerror(-rc));
	json_decref(m);
	return rc;
}

/* ---- the captures' own manifests ---------------------------------------------------------- */

/* The counters of a capture's own manifest (tide-dataplane's names) in the links' names. */
static json_t *
manifest_counters(json_t *mc)
{
	json_int_t drops = 0;
	const char *k;
	json_t *v, *by = json_object_get(mc, "dropped");
	json_object_foreach(by, k, v)
		drops += json_integer_value(v);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "packets",
		json_integer_value(json_object_get(mc, "written")), "bytes",
		json_integer_value(json_object_get(mc, "bytes_written")), "written",
		json_integer_value(json_object_get(mc, "written")), "bytes_written",
		json_integer_value(json_object_get(mc, "bytes_written")), "received",
		json_integer_value(json_object_get(mc, "received")), "matched",
		json_integer_value(json_object_get(mc, "matched")), "filtered",
		json_integer_value(json_object_get(mc, "filtered")), "unselected",
		json_integer_value(json_object_get(mc, "unselected")), "drops", drops,
		"drops_by_reason", json_is_object(by) ? json_incref(by) : json_object());
}

/* The "counters" of the manifest the capture on (drone, link) uploaded, NULL without one. */
static json_t *
uploaded_counters(struct cp_db *db, const char *data_dir, int64_t job, const char *drone,
	const char *link)
{
	char rel[256] = "", dir[PATH_MAX], path[PATH_MAX + 300], want[160];
	sqlite3_stmt *st = tide_layout_link_manifest(want, sizeof(want), drone, link) == 0 ?
		cp_db_stmt(db, sql_link_manifest) : NULL;
	if (st) {
		sqlite3_bind_int64(st, 1, job);
		sqlite3_bind_text(st, 2, want, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(rel, sizeof(rel), "%s", sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	}
	if (!rel[0] || cp_drone_job_path(data_dir, job, "", dir, sizeof(dir)))
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	/* a recorded upload: a regular file, never read through a symlink, bounded */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	json_t *man = NULL;
	if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		sb.st_size <= CP_MANIFEST_LINK_MAX)
		man = json_loadfd(fd, 0, NULL);
	if (fd >= 0)
		close(fd);
	json_t *mc = json_object_get(man, "counters");
	json_t *c = json_is_object(mc) ? manifest_counters(mc) : NULL;
	/* what a selection by application kept, as the drone would have reported it */
	json_t *sel = json_object_get(man, "selection");
	if (c && json_is_object(sel))
		json_object_set(c, "selection", sel);
	json_decref(man);
	return c;
}

int
cp_manifest_link_counters(struct cp_db *db, const char *data_dir, int64_t job,
	const char *drone, const char *link, json_t **counters)
{
	if (json_object_get(*counters, "packets"))
		return 0;
	json_t *c = uploaded_counters(db, data_dir, job, drone, link);
	if (!c)
		return 0;
	if (json_is_object(*counters))
		json_object_update_missing(c, *counters); /* "files", as the drone reported them */
	tide_info("manifest", "job %lld: %s/%s ended without counters; taken from its manifest "
		"(%lld packets)", (long long)job, drone, link,
		(long long)json_integer_value(json_object_get(c, "packets")));
	json_decref(*counters);
	*counters = c;
	char *js = json_dumps(c, JSON_COMPACT);
	sqlite3_stmt *st = js ? cp_db_stmt(db, sql_link_counters) : NULL;
	int rc = 0; /* no memory or no statement (logged): the row keeps what was reported */
	if (st) {
		sqlite3_bind_int64(st, 1, job);
		sqlite3_bind_text(st, 2, drone, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, link, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, js, -1, SQLITE_STATIC);
		rc = cp_db_done(st);
	}
	free(js);
	return rc;
}
