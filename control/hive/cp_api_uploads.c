/* cp_api_uploads.c — the drones' upload route: PUT /api/v1/drones/upload/{job}/{path...}.
 *
 * With a drone token, the file as the body, Content-Length and X-Tide-Sha256. The path must
 * lie in the part of the dataset that one of
 * the drone's links of the job writes (shards/<drone>/<link>/, flows/<drone>/<link>...,
 * manifests/<drone>/<link>.json), each segment of [A-Za-z0-9._-] not starting with '.'.
 * Everything that can refuse a file is decided from the headers, before a byte of the body is
 * read (with "Expect: 100-continue" the drone does not even send it): 403 outside those parts;
 * a stored file never changes — the identical file again is 200 (a drone that lost the first
 * answer is not stuck), another body 409 exists; 409 link_ended once that link is done, failed
 * or cancelled; 409 path_conflict where a directory or file is in the way; 413
 * max_size_exceeded, 507 quota_exceeded and 507 disk_full as admit() explains. Then the body is
 * written to a dot-file in the dataset (never listed or served), hashed as it arrives, fsynced,
 * compared with the declared SHA-256 (422 on a mismatch, leaving nothing), moved into place
 * without replacing anything (RENAME_NOREPLACE) and recorded in job_files, with the job's
 * dataset_bytes, in one step. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <civetweb.h>
#include <openssl/evp.h>

#include "cp_api.h"
#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "tide_log.h"
#include "cp_options.h"
#include "cp_routes.h"
#include "tide_layout.h"
#include "tide_fs.h"

#define UPLOAD_CHUNK (256 * 1024)
#define UPLOAD_DEPTH 8
#define UPLOAD_LINKS 64             /* links of one job (JOB_LINKS_MAX) */
#define UPLOAD_SLOTS 1024           /* uploads in flight: one per HTTP worker (threads) at most */
#define DISK_RESERVE (4ll << 20)    /* never given to uploads: the database must still be able to
                                     * record the job's end (SQLite's WAL grows to ~4 MiB before
                                     * a checkpoint) and the scheduler to write manifest.json */

static const char sql_upload_job[] =
	"SELECT max_size, COALESCE(group_id, 0), COALESCE((SELECT quota_bytes FROM groups"
	" WHERE id = jobs.group_id), 0), (SELECT name FROM groups WHERE id = jobs.group_id)"
	" FROM jobs WHERE id = ?1";
static const char sql_upload_links[] =
	"SELECT link, state FROM job_links WHERE job_id = ?1 AND drone = ?2 ORDER BY link";
static const char sql_file_get[] =
	"SELECT size, sha256 FROM job_files WHERE job_id = ?1 AND path = ?2";
static const char sql_drone_files[] =
	"SELECT path, size FROM job_files WHERE job_id = ?1 AND drone = ?2";
static const char sql_job_bytes[] =
	"SELECT COALESCE(SUM(size), 0) FROM job_files WHERE job_id = ?1";
static const char sql_group_ended[] =
	"SELECT COALESCE(SUM(dataset_bytes), 0) FROM jobs WHERE group_id = ?1 AND id != ?2"
	" AND state NOT IN ('pending', 'running', 'finishing')";
static const char sql_group_active[] =
	"SELECT id, max_size, (SELECT COALESCE(SUM(size), 0) FROM job_files WHERE job_id = jobs.id)"
	" FROM jobs WHERE group_id = ?1 AND id != ?2 AND state IN ('pending', 'running', 'finishing')";
static const char sql_file_insert[] =
	"INSERT INTO job_files (job_id, path, drone, size, sha256, uploaded_at)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_job_dataset_bytes[] =
	"UPDATE jobs SET dataset_bytes = (SELECT COALESCE(SUM(size), 0) FROM job_files"
	" WHERE job_id = ?1) WHERE id = ?1";

/* ---- uploads -------------------------------------------------------------------------------- */

/* Which part of a link's dataset a file is in: what its capture bounds (shards) or not. */
enum area { AREA_SHARDS, AREA_DERIVED };

/* The job as an upload sees it: its limits and this drone's links of it. */
struct up_job {
	int64_t max_size, group, quota;
	char group_name[65];
	int n;
	struct {
		char name[64];
		char state[16];
	} links[UPLOAD_LINKS];
};

/* Bytes admitted but not yet recorded in job_files, so that concurrent uploads cannot both pass
 * one limit. up_mu also covers reading the recorded sums and recording a file, so no byte is
 * counted twice or not at all. At most one upload per HTTP worker (threads <= 1024). */
static pthread_mutex_t up_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t job, bytes;              /* job 0 = free */
	char drone[CP_DRONE_NAME_MAX + 1];
	char link[64];
	enum area area;
} inflight[UPLOAD_SLOTS];

/* The path's segments are safe and it lies in the drone's own part of the dataset. */
static bool
upload_path_ok(const char *path, const char *drone)
{
	if (tide_layout_area_of(path, drone, NULL) == TIDE_AREA_NONE)
		return false;
	int depth = 0;
	for (const char *p = path; *p; depth++) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!tide_layout_segment_ok(p, len) || depth >= UPLOAD_DEPTH)
			return false;
		p += len + (slash ? 1 : 0);
		if (slash && !*p)
			return false;
	}
	return true;
}

/* Which of the drone's links of the job a path belongs to — the capture that wrote it:
 * shards/<drone>/<link>/..., manifests/<drone>/<link>.json, or flows/<drone>/ files named after
 * the link (<link>.csv, <link>.csv.summary.csv, <link>-<time>.csv in cyclic mode: the longest
 * link name followed by '.' or '-'). The index in j->links, or -1. */
static int
path_link(const char *rel, const char *drone, const struct up_job *j, enum area *area)
{
	const char *rest = NULL; /* after AREA/DRONE/ (upload_path_ok checked there is one) */
	enum tide_layout_area a = tide_layout_area_of(rel, drone, &rest);
	bool shards = a == TIDE_AREA_SHARDS, manifest = a == TIDE_AREA_MANIFESTS;
	if (!rest)
		return -1;
	int best = -1;
	size_t best_len = 0;
	*area = shards ? AREA_SHARDS : AREA_DERIVED;
	for (int i = 0; i < j->n; i++) {
		size_t ll = strlen(j->links[i].name);
		if (ll <= best_len || strncmp(rest, j->links[i].name, ll) != 0)
			continue;
		const char *after = rest + ll;
		if (shards ? *after == '/' : manifest ? strcmp(after, ".json") == 0 :
			*after == '.' || *after == '-') {
			best = i;
			best_len = ll;
		}
	}
	return best;
}

/* The job's limits and the drone's links of it: 0, -ENOENT (no such job, or none of its links
 * is on this drone), or -errno. */
static int
load_upload_job(struct cp_req *r, int64_t job, struct up_job *j)
{
	memset(j, 0, sizeof(*j));
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_upload_job);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		j->max_size = sqlite3_column_int64(st, 0);
		j->group = sqlite3_column_int64(st, 1);
		j->quota = sqlite3_column_int64(st, 2);
		snprintf(j->group_name, sizeof(j->group_name), "%s",
			sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "");
	}
	sqlite3_reset(st);
	if (s != SQLITE_ROW)
		return s == SQLITE_DONE ? -ENOENT : cp_db_errno(s);
	st = cp_db_stmt(r->db, sql_upload_links);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_text(st, 2, r->drone, -1, SQLITE_STATIC);
	while (j->n < UPLOAD_LINKS && (s = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(j->links[j->n].name, sizeof(j->links[0].name), "%s",
			sqlite3_column_text(st, 0));
		snprintf(j->links[j->n++].state, sizeof(j->links[0].state), "%s",
			sqlite3_column_text(st, 1));
	}
	sqlite3_reset(st);
	return j->n ? 0 : -ENOENT;
}

/* mkdir -p of rel's parent directories under dir (0755: the sandbox reads datasets). A part of
 * the path that exists but is not a directory (a file, a symlink) is -ENOTDIR. */
static int
make_parents(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, rel) >= sizeof(p))
		return -ENAMETOOLONG;
	size_t base = strlen(dir);
	for (char *s = p + base + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		struct stat sb;
		if (mkdir(p, 0755) != 0 && (errno != EEXIST || lstat(p, &sb) != 0 ||
			!S_ISDIR(sb.st_mode)))
			return errno == EEXIST || errno == 0 ? -ENOTDIR : -errno;
		*s = '/';
	}
	return 0;
}

/* Bytes of the drone's link li (area) recorded in job_files, of the whole job, and of the
 * group's other jobs (datasets of ended ones; running ones count max_size or what they hold,
 * whichever is more, as the API's used_bytes does). Under up_mu. 0 or -errno. */
static int
recorded(struct cp_req *r, int64_t job, const struct up_job *j, int li, enum area area,
	int64_t *link_bytes, int64_t *job_bytes, int64_t *group_bytes)
{
	*link_bytes = *job_bytes = *group_bytes = 0;
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_drone_files);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_text(st, 2, r->drone, -1, SQLITE_STATIC);
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		enum area a;
		if (path_link((const char *)sqlite3_column_text(st, 0), r->drone, j, &a) == li &&
			a == area)
			*link_bytes += sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (s != SQLITE_DONE)
		return cp_db_errno(s);
	st = cp_db_stmt(r->db, sql_job_bytes);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job);
	if ((s = sqlite3_step(st)) == SQLITE_ROW)
		*job_bytes = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (s != SQLITE_ROW)
		return cp_db_errno(s);
	if (j->quota <= 0)
		return 0;
	st = cp_db_stmt(r->db, sql_group_ended);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, j->group);
	sqlite3_bind_int64(st, 2, job);
	if ((s = sqlite3_step(st)) == SQLITE_ROW)
		*group_bytes = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (s != SQLITE_ROW)
		return cp_db_errno(s);
	st = cp_db_stmt(r->db, sql_group_active);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, j->group);
	sqlite3_bind_int64(st, 2, job);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t other = sqlite3_column_int64(st, 0), held = sqlite3_column_int64(st, 2);
		for (int i = 0; i < UPLOAD_SLOTS; i++)
			if (inflight[i].job == other)
				held += inflight[i].bytes;
		*group_bytes += held > sqlite3_column_int64(st, 1) ? held :
			sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return s == SQLITE_DONE ? 0 : cp_db_errno(s);
}

/* Admits len bytes for the drone's link li of the job: against max_size for that link's area,
 * the group's quota and the free disk (all before a byte of the body is read). The in-flight
 * slot that now holds them, or -1 after answering 413, 507 or 5xx.
 *
 * max_size is counted per link because that is what each capture enforces: every link's
 * tide-dataplane gets the job's max_size and its writer never lets the shards pass it (dp_pcapng
 * max_total counts whole files), while the Hive stops the other links only once their summed
 * live counters, reported once a second, reach max_size. So a job on N links may legitimately
 * hold up to N x max_size of shards — and a link's shards beyond max_size never came from its
 * capture. No slack is needed for a shard in flight: the writer refuses the block that would
 * pass the limit instead of finishing the shard. Flow records and the manifest (derived from
 * the capture: kilobytes next to megabytes of shards) get a budget of max_size of their own per
 * link, far above what a capture writes and still a bound. The group's quota counts every byte
 * of every job as it arrives. */
static int
admit(struct cp_req *r, int64_t job, const struct up_job *j, int li, enum area area,
	long long len)
{
	int64_t link_bytes, job_bytes, group_bytes, busy = 0;
	struct statvfs vfs;
	pthread_mutex_lock(&up_mu);
	int rc = recorded(r, job, j, li, area, &link_bytes, &job_bytes, &group_bytes);
	int slot = -1;
	for (int i = 0; rc == 0 && i < UPLOAD_SLOTS; i++) {
		if (!inflight[i].job) {
			slot = slot < 0 ? i : slot;
			continue;
		}
		busy += inflight[i].bytes;
		if (inflight[i].job != job)
			continue;
		job_bytes += inflight[i].bytes;
		if (!strcmp(inflight[i].drone, r->drone) && inflight[i].area == area &&
			!strcmp(inflight[i].link, j->links[li].name))
			link_bytes += inflight[i].bytes;
	}
	int64_t avail = rc == 0 && statvfs(r->srv->opt->data_dir, &vfs) == 0 ?
		(int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize : -1;
	if (rc == 0 && link_bytes + len > j->max_size) {
		rc = 413;
	} else if (rc == 0 && j->quota > 0 && group_bytes + job_bytes + len > j->quota) {
		rc = 507;
	} else if (rc == 0 && avail >= 0 && avail - busy - DISK_RESERVE < len) {
		rc = 508; /* answered as 507 disk_full below */
	} else if (rc == 0 && slot < 0) {
		rc = -EBUSY;
	} else if (rc == 0) {
		inflight[slot].job = job;
		inflight[slot].bytes = len;
		inflight[slot].area = area;
		snprintf(inflight[slot].drone, sizeof(inflight[slot].drone), "%s", r->drone);
		snprintf(inflight[slot].link, sizeof(inflight[slot].link), "%s", j->links[li].name);
	}
	pthread_mutex_unlock(&up_mu);
	const char *what = area == AREA_SHARDS ? "shards" : "flow records and manifest";
	if (rc == 413)
		cp_fail(r, 413, "max_size_exceeded", "job %lld: the %s of link %s/%s would hold %lld "
			"bytes with this file; the job's max_size is %lld per link", (long long)job, what,
			r->drone, j->links[li].name, (long long)(link_bytes + len),
			(long long)j->max_size);
	else if (rc == 507)
		cp_fail(r, 507, "quota_exceeded", "group %s: its quota is %lld bytes; %lld are used "
			"or reserved and this file needs %lld more", j->group_name, (long long)j->quota,
			(long long)(group_bytes + job_bytes), (long long)len);
	else if (rc == 508)
		cp_fail(r, 507, "disk_full", "the Hive's data disk has %lld bytes free (%lld taken by "
			"uploads in progress, %lld kept for the database); this file needs %lld",
			(long long)avail, (long long)busy, (long long)DISK_RESERVE, (long long)len);
	else if (rc)
		cp_fail_errno(r, rc, "admitting the upload");
	if (rc)
		return -1;
	return slot;
}

static void
release(int slot)
{
	pthread_mutex_lock(&up_mu);
	inflight[slot].job = 0;
	pthread_mutex_unlock(&up_mu);
}

/* Records a stored file (and the job's dataset_bytes, kept current as files arrive) and frees
 * its in-flight slot, in one step under up_mu. 0 or -errno. */
static int
record(struct cp_req *r, int64_t job, const char *rel, long long len, const char *hex, int slot)
{
	pthread_mutex_lock(&up_mu);
	int rc = cp_db_begin(r->db);
	if (rc == 0) {
		sqlite3_stmt *st = cp_db_stmt(r->db, sql_file_insert);
		int s = SQLITE_ERROR;
		if (st) {
			sqlite3_bind_int64(st, 1, job);
			sqlite3_bind_text(st, 2, rel, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, r->drone, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, len);
			sqlite3_bind_text(st, 5, hex, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, tide_wall_ms());
			s = sqlite3_step(st);
			sqlite3_reset(st);
		}
		if (s == SQLITE_DONE) {
			st = cp_db_stmt(r->db, sql_job_dataset_bytes);
			s = SQLITE_ERROR;
			if (st) {
				sqlite3_bind_int64(st, 1, job);
				s = sqlite3_step(st);
				sqlite3_reset(st);
			}
		}
		rc = s == SQLITE_DONE ? cp_db_commit(r->db) : cp_db_errno(s);
		if (s != SQLITE_DONE)
			cp_db_rollback(r->db);
	}
	if (slot >= 0)
		inflight[slot].job = 0;
	pthread_mutex_unlock(&up_mu);
	return rc;
}

/* Did the client ask to be told before it sends the body? */
static bool
expects_continue(struct cp_req *r)
{
	const char *expect = mg_get_header(r->conn, "Expect");
	return expect && strcasecmp(expect, "100-continue") == 0;
}

/* The same file again, from a client that sends the body without waiting (no Expect, as drones
 * before dp_upload.c): the body is read and dropped, so that it gets this answer rather than a
 * write error it would take for an unreachable Hive. Bounded by max_upload. */
static void
drain(struct cp_req *r, long long len)
{
	char *buf = expects_continue(r) ? NULL : malloc(UPLOAD_CHUNK);
	for (long long got = 0; buf && got < len;) {
		int n = mg_read(r->conn, buf, UPLOAD_CHUNK);
		if (n <= 0)
			break;
		got += n;
	}
	free(buf);
}

/* The file already at final (a crash between rename and record, or a concurrent upload of it):
 * 200 and recorded when it is the declared one, else 409. */
static int
answer_existing(struct cp_req *r, int64_t job, const char *rel, const char *final,
	long long len, const char *sha, int slot)
{
	struct stat sb;
	char hex[65] = "";
	uint64_t size = 0;
	bool there = lstat(final, &sb) == 0, dir = there && !S_ISREG(sb.st_mode);
	bool same = there && S_ISREG(sb.st_mode) && sb.st_size == len &&
		tide_sha256_file(final, O_NOFOLLOW, hex, &size) == 0 && size == (uint64_t)len;
	if (!same || strcmp(hex, sha) != 0) {
		if (slot >= 0)
			release(slot);
		if (dir)
			return cp_fail(r, 409, "path_conflict", "%s is a directory (or not a regular "
				"file) in the dataset", rel);
		return cp_fail(r, 409, "exists", "%s is stored already with other content; a stored "
			"file never changes", rel);
	}
	int rc = record(r, job, rel, len, hex, slot);
	if (rc && rc != -EEXIST) /* EEXIST: a concurrent upload of the same file recorded it */
		return cp_fail_errno(r, rc, "recording the upload");
	if (slot < 0)
		drain(r, len); /* answered before the body: the client may be sending it anyway */
	return cp_reply(r, 200, json_pack("{s:s, s:I, s:s, s:b}", "path", rel, "size",
		(json_int_t)len, "sha256", hex, "already", 1));
}

/* Reads the body into tmp, hashing it. 0, -EPIPE (it ended early), -ENOSPC or -errno. */
static int
receive(struct cp_req *r, int fd, long long len, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *buf = malloc(UPLOAD_CHUNK);
	long long got = 0;
	int rc = ctx && buf ? 0 : -ENOMEM;
	if (rc == 0)
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (rc == 0 && got < len) {
		int n = mg_read(r->conn, buf, UPLOAD_CHUNK);
		if (n <= 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		for (ssize_t off = 0; rc == 0 && off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				rc = -errno;
			else
				off += w;
		}
		got += n;
	}
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (rc == 0) {
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc == 0 && got != len)
		rc = -EPIPE;
	return rc;
}

/* Places tmp at final unless something is there already: never replaces a file. */
static int
place(const char *tmp, const char *final)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a file system without RENAME_NOREPLACE: link() refuses an existing name just as well */
	if (link(tmp, final) != 0)
		return -errno;
	unlink(tmp);
	return 0;
}

/* After an interim "100 Continue", civetweb takes that first write for the start of the answer
 * and would send the final one without its status line and headers: it is written here
 * instead, with the headers every answer gets (cp_http_head, send_json). */
static void
answer_after_continue(struct cp_req *r)
{
	char *text = r->resp ? json_dumps(r->resp, JSON_COMPACT) : NULL;
	size_t len = text ? strlen(text) : 0;
	mg_printf(r->conn, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		"Content-Length: %zu\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
		"Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n%s%.*s"
		"Connection: close\r\n\r\n", r->status, mg_get_response_code_text(r->conn, r->status),
		len, r->srv->tls ? "Strict-Transport-Security: max-age=31536000\r\n" : "",
		(int)r->headers_len, r->headers);
	if (len)
		mg_write(r->conn, text, len);
	free(text);
	r->sent = true;
}

static int store(struct cp_req *r, int64_t job, const char *rel, const char *dir,
	const char *final, long long len, const char *sha, int slot);

static int
put_upload(struct cp_req *r)
{
	int64_t job = cp_param_id(r, 0);
	if (job < 0)
		return r->status;
	/* every answer but a stored file comes before the body is read: the connection closes
	 * after it, so an unread body is never parsed as the next request */
	mg_disable_connection_keep_alive(r->conn);
	const char *rel = r->params[1];
	if (!upload_path_ok(rel, r->drone))
		return cp_fail(r, 403, "forbidden", "a drone uploads only into shards/%s/, "
			"flows/%s/ or manifests/%s/ with plain names", r->drone, r->drone, r->drone);
	const char *sha = mg_get_header(r->conn, "X-Tide-Sha256");
	long long len = r->ri->content_length;
	if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
		return cp_fail(r, 400, "missing_field", "X-Tide-Sha256 (64 lower-case hex) is "
			"required");
	if (len < 0)
		return cp_fail(r, 411, "length_required", "uploads need Content-Length");
	if ((uint64_t)len > r->srv->opt->max_upload)
		return cp_fail(r, 413, "body_too_large", "uploads are limited to %llu bytes",
			(unsigned long long)r->srv->opt->max_upload);
	struct up_job j;
	int rc = load_upload_job(r, job, &j);
	if (rc == -ENOENT)
		return cp_fail(r, 404, "not_found", "no job %lld on drone %s", (long long)job,
			r->drone);
	if (rc)
		return cp_fail_errno(r, rc, "checking the job");
	enum area area;
	int li = path_link(rel, r->drone, &j, &area);
	if (li < 0)
		return cp_fail(r, 403, "forbidden", "%s is not in the part of job %lld that one of "
			"drone %s's links of it writes", rel, (long long)job, r->drone);
	/* a stored file never changes: the same file again is acknowledged (a drone that lost the
	 * first answer is not stuck), anything else is refused */
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_file_get);
	if (!st)
		return cp_fail_errno(r, -EIO, "checking the file");
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_text(st, 2, rel, -1, SQLITE_STATIC);
	int s = sqlite3_step(st);
	bool same = s == SQLITE_ROW && sqlite3_column_int64(st, 0) == len &&
		strcmp((const char *)sqlite3_column_text(st, 1), sha) == 0;
	sqlite3_reset(st);
	if (s == SQLITE_ROW && same) {
		drain(r, len);
		return cp_reply(r, 200, json_pack("{s:s, s:I, s:s, s:b}", "path", rel, "size",
			(json_int_t)len, "sha256", sha, "already", 1));
	}
	if (s == SQLITE_ROW)
		return cp_fail(r, 409, "exists", "%s is stored already with other content; a stored "
			"file never changes", rel);
	if (s != SQLITE_DONE)
		return cp_fail_errno(r, cp_db_errno(s), "checking the file");
	/* a link's files are sealed when it ends (done, failed, cancelled) */
	const char *state = j.links[li].state;
	if (strcmp(state, "running") != 0 && strcmp(state, "finishing") != 0)
		return cp_fail(r, 409, "link_ended", "job %lld: link %s/%s is %s; its files can no "
			"longer change", (long long)job, r->drone, j.links[li].name, state);

	char dir[PATH_MAX], final[PATH_MAX + 600];
	if (cp_drone_job_path(r->srv->opt->data_dir, job, "", dir, sizeof(dir)))
		return cp_fail_errno(r, -ENAMETOOLONG, "storing the upload");
	snprintf(final, sizeof(final), "%s/%s", dir, rel);
	mkdir(dir, 0755);
	rc = make_parents(dir, rel);
	if (rc == -ENOTDIR)
		return cp_fail(r, 409, "path_conflict", "a part of %s is a file in the dataset", rel);
	if (rc == -ENOSPC || rc == -EDQUOT)
		return cp_fail(r, 507, "disk_full", "the Hive's data disk is full");
	if (rc)
		return cp_fail_errno(r, rc, "storing the upload");
	struct stat sb;
	if (lstat(final, &sb) == 0) /* a directory, or a file that was never recorded */
		return answer_existing(r, job, rel, final, len, sha, -1);
	int slot = admit(r, job, &j, li, area, len);
	if (slot < 0)
		return r->status;
	/* everything that can refuse the file has been checked: now the body */
	bool continued = expects_continue(r);
	if (continued)
		mg_printf(r->conn, "HTTP/1.1 100 Continue\r\n\r\n");
	store(r, job, rel, dir, final, len, sha, slot);
	if (continued)
		answer_after_continue(r);
	return r->status;
}

/* Receives the admitted body, places it and records it; answers 201, 200 (the same file was
 * stored meanwhile), 400, 409, 422, 507 or 5xx. Frees the in-flight slot. */
static int
store(struct cp_req *r, int64_t job, const char *rel, const char *dir, const char *final,
	long long len, const char *sha, int slot)
{
	char tmp[PATH_MAX + 64], rnd[24], hex[65] = "";
	cp_random_b64(rnd, sizeof(rnd), 12);
	snprintf(tmp, sizeof(tmp), "%s/.upload-%s", dir, rnd);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	int rc = fd < 0 ? -errno : receive(r, fd, len, hex);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && strcmp(hex, sha) != 0) {
		unlink(tmp);
		release(slot);
		tide_warn("drones", "job %lld: %s from drone %s: SHA-256 mismatch (sent %s, got %s)",
			(long long)job, rel, r->drone, sha, hex);
		return cp_fail(r, 422, "checksum_mismatch", "the body's SHA-256 is %s, not %s", hex,
			sha);
	}
	if (rc == 0)
		rc = place(tmp, final);
	if (rc == -EEXIST) {
		unlink(tmp);
		return answer_existing(r, job, rel, final, len, sha, slot);
	}
	if (rc) {
		unlink(tmp);
		release(slot);
		if (rc == -EPIPE)
			return cp_fail(r, 400, "invalid_body", "the body ended early");
		if (rc == -ENOSPC || rc == -EDQUOT)
			return cp_fail(r, 507, "disk_full", "the Hive's data disk filled up while this "
				"file was received");
		if (rc == -ENOTDIR || rc == -EISDIR)
			return cp_fail(r, 409, "path_conflict", "%s conflicts with a directory or file "
				"in the dataset", rel);
		return cp_fail_errno(r, rc, "storing the upload");
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = record(r, job, rel, len, hex, slot);
	if (rc) {
		unlink(final); /* unrecorded, it would be listed without its SHA-256: the drone retries */
		return cp_fail_errno(r, rc, "recording the upload");
	}
	return cp_reply(r, 201, json_pack("{s:s, s:I, s:s}", "path", rel, "size", (json_int_t)len,
		"sha256", hex));
}

CP_ROUTE_TABLE(cp_api_uploads_routes,
	{ "PUT", "/api/v1/drones/upload/{job}/{path...}", CP_PERM_DRONE, put_upload },
);
