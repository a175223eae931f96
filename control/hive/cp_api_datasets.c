/* cp_api_datasets.c — a job's dataset as the API serves it (jobs.read): its file listing, one
 * file with Range, the post-processing script's log, the whole dataset as one streamed archive,
 * and the application mix summed from its flow records. The job is found and scoped by
 * cp_api_jobs_view.c (cp_jobs_load), exactly as the job routes find it.
 *
 * Dataset files (cp_dataset.c) follow one set of rules whether listed or opened: regular
 * files reached through directories only, openat relative to directory descriptors with
 * O_NOFOLLOW at every step, no component starting with '.', bounded depth. A download opens
 * exactly the requested path by those rules, component by component — it never walks the
 * dataset, so 65,536 files cost it nothing — and the listing of an ended job is walked once
 * and kept while its directories are unchanged. The route matcher already refuses "..", "."
 * and empty segments (cp_routes.c); this is the second, independent wall.
 *
 * The archive route streams those same walked files as one tar (or tar.gz) through libarchive,
 * block by block as chunked transfer: nothing is built on disk or in memory, so a dataset of
 * any size costs one read buffer and libarchive's block. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <civetweb.h>

#include "cp_api.h"
#include "cp_api_jobs.h"
#include "cp_audit.h"
#include "cp_dataset.h"
#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_http.h"
#include "cp_options.h"
#include "cp_routes.h"
#include "tide_counters.h"
#include "tide_log.h"

#define SEND_CHUNK (256 * 1024)
#define ARCHIVE_BLOCK (64 * 1024)         /* libarchive's write block = one HTTP chunk */

/* ---- dataset files ----------------------------------------------------------------------- */

/* The job's listing (cp_dataset.c: cached for ended jobs while their directories are
 * unchanged). NULL with *err (-ENOENT: no dataset yet). */
static struct cp_listing *
listing(struct cp_req *r, int64_t id, const struct cp_job_meta *m, int *err)
{
	return cp_dataset_listing(r->srv->opt->data_dir, id, m->state, m->ended_at, err);
}

static int
get_files(struct cp_req *r)
{
	int64_t id;
	struct cp_job_meta m;
	if (cp_jobs_load(r, &id, &m, NULL))
		return r->status;
	int err;
	struct cp_listing *l = listing(r, id, &m, &err);
	if (!l && err == -ENOENT) /* not started yet */
		return cp_reply(r, 200, json_pack("{s:[]}", "items"));
	if (!l)
		return cp_fail_errno(r, err, "listing the dataset");
	/* the body was serialised when the listing was made: sent as it is, as send_json would */
	size_t len;
	const char *body = cp_listing_body(l, &len);
	r->status = 200;
	cp_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
	cp_http_send(r, "application/json", body, len);
	cp_listing_put(l);
	return r->status;
}

/* A single "bytes=" range against size. 0 and [*from, *to] when satisfiable; 1 when absent or
 * not a single range (the whole file is sent, as RFC 9110 allows); -1 when unsatisfiable. */
static int
parse_range(const char *h, int64_t size, int64_t *from, int64_t *to)
{
	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 1;
	const char *s = h + 6;
	char *end;
	if (*s == '-') {
		long long n = strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end || n <= 0)
			return n == 0 && end != s + 1 && !*end ? -1 : 1;
		*from = n >= size ? 0 : size - n;
		*to = size - 1;
		return size > 0 ? 0 : -1;
	}
	if (*s < '0' || *s > '9')
		return 1;
	long long a = strtoll(s, &end, 10), b = size - 1;
	if (*end != '-')
		return 1;
	if (end[1]) {
		const char *bs = end + 1;
		if (*bs < '0' || *bs > '9')
			return 1;
		b = strtoll(bs, &end, 10);
		if (*end || b < a)
			return 1;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 0;
}

static int
get_file(struct cp_req *r)
{
	int64_t id;
	if (cp_jobs_load(r, &id, NULL, NULL))
		return r->status;
	const char *want = r->params[1];
	/* exactly the requested path, opened by the rules the listing follows (cp_dataset.h):
	 * no walk, however many files the dataset holds */
	struct stat sb;
	int dfd = cp_dataset_open(r->srv->opt->data_dir, id);
	int fd = dfd < 0 ? dfd : cp_dataset_open_file(dfd, want, &sb);
	if (dfd >= 0)
		close(dfd);
	if (fd == -ENOENT)
		return cp_fail(r, 404, "not_found", "no such file in the dataset");
	if (fd < 0)
		return cp_fail_errno(r, fd, "opening the file");
	int64_t size = sb.st_size, from = 0, to = size - 1;
	int range = parse_range(mg_get_header(r->conn, "Range"), size, &from, &to);
	char target[32];
	snprintf(target, sizeof(target), "job:%lld", (long long)id);
	cp_audit(r, CP_AUDIT_JOB_DOWNLOAD, target, json_pack("{s:s}", "file", want));
	if (range < 0) {
		close(fd);
		cp_header(r, "Content-Range", "bytes */%lld", (long long)size);
		return cp_fail(r, 416, "range_not_satisfiable", "the file has %lld bytes",
			(long long)size);
	}
	const char *base = strrchr(want, '/');
	base = base ? base + 1 : want;
	cp_header(r, "Accept-Ranges", "bytes");
	cp_header(r, "Content-Disposition", "attachment; filename=\"%s\"", base);
	if (range == 0)
		cp_header(r, "Content-Range", "bytes %lld-%lld/%lld", (long long)from,
			(long long)to, (long long)size);
	r->status = range == 0 ? 206 : 200;
	cp_http_head(r, "application/octet-stream", to - from + 1);
	char *buf = malloc(SEND_CHUNK);
	for (int64_t off = from; buf && off <= to;) {
		size_t want_n = (size_t)(to - off + 1 < SEND_CHUNK ? to - off + 1 : SEND_CHUNK);
		ssize_t n = pread(fd, buf, want_n, off);
		if (n <= 0 || mg_write(r->conn, buf, (size_t)n) <= 0)
			break; /* the file shrank, or the client left: the connection closes short */
		off += n;
	}
	free(buf);
	close(fd);
	return r->status;
}

/* The script's stdout and stderr (capped by the sandbox), as text. */
static int
get_script_log(struct cp_req *r)
{
	int64_t id;
	if (cp_jobs_load(r, &id, NULL, NULL))
		return r->status;
	char path[PATH_MAX];
	int fd = cp_drone_job_path(r->srv->opt->data_dir, id, ".script.log", path, sizeof(path)) ?
		-1 : open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		return cp_fail(r, 404, "not_found", "the job has no script log");
	}
	r->status = 200;
	cp_http_head(r, "text/plain; charset=utf-8", sb.st_size);
	char *buf = malloc(SEND_CHUNK);
	for (int64_t off = 0; buf && off < sb.st_size;) {
		size_t n = (size_t)(sb.st_size - off < SEND_CHUNK ? sb.st_size - off : SEND_CHUNK);
		ssize_t got = pread(fd, buf, n, off);
		if (got <= 0 || mg_write(r->conn, buf, (size_t)got) <= 0)
			break; /* the connection closes short */
		off += got;
	}
	free(buf);
	close(fd);
	return r->status;
}

/* ---- the whole dataset as one archive ----------------------------------------------------- */

struct archive_sink {
	struct mg_connection *conn;
	bool broken; /* a file could not be read or the client left: write nothing more */
};

static la_ssize_t
archive_sink_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct archive_sink *sink = ctx;
	if (sink->broken || len > UINT32_MAX ||
		mg_send_chunk(sink->conn, buf, (unsigned int)len) <= 0) {
		sink->broken = true;
		archive_set_error(a, EPIPE, "the client left");
		return -1;
	}
	return (la_ssize_t)len;
}

/* Appends the listed file rel (opened again by the listing's rules) as job-<id>/rel. 0 or
 * -1. */
static int
archive_add(struct archive *a, struct archive_entry *e, int dfd, int64_t id, const char *rel,
	char *buf)
{
	struct stat sb;
	int fd = cp_dataset_open_file(dfd, rel, &sb);
	if (fd < 0)
		return 0; /* removed since the listing: the listing would not show it now either */
	char name[64 + CP_PARAM_MAX];
	snprintf(name, sizeof(name), "job-%lld/%s", (long long)id, rel);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, sb.st_size);
	archive_entry_set_mtime(e, sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -1;
	/* only st_size bytes: a file that shrank is padded by libarchive, one that grew is cut */
	for (int64_t off = 0; rc == 0 && off < sb.st_size;) {
		size_t n = (size_t)(sb.st_size - off < SEND_CHUNK ? sb.st_size - off : SEND_CHUNK);
		ssize_t got = pread(fd, buf, n, off);
		if (got <= 0 || archive_write_data(a, buf, (size_t)got) != got)
			rc = -1;
		off += got > 0 ? got : 0;
	}
	close(fd);
	return rc;
}

static int
get_archive(struct cp_req *r)
{
	int64_t id;
	struct cp_job_meta m;
	if (cp_jobs_load(r, &id, &m, NULL))
		return r->status;
	char format[16];
	int q = cp_query(r, "format", format, sizeof(format));
	if (q == -ENOENT)
		snprintf(format, sizeof(format), "tar");
	else if (q || (strcmp(format, "tar") && strcmp(format, "tar.gz")))
		return cp_fail(r, 400, "invalid_parameter", "format must be tar or tar.gz");
	bool gz = strcmp(format, "tar.gz") == 0;
	if (!tide_job_state_ended(m.state))
		return cp_fail(r, 409, "invalid_state", "the job is %s; archives are of ended jobs",
			m.state);
	int err;
	struct cp_listing *files = listing(r, id, &m, &err);
	if (!files && err != -ENOENT) /* -ENOENT: cancelled before it started, an empty archive */
		return cp_fail_errno(r, err, "listing the dataset");
	int dfd = cp_dataset_open(r->srv->opt->data_dir, id);
	char *buf = malloc(SEND_CHUNK);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct archive_sink sink = { .conn = r->conn };
	if (!buf || !a || !e || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
		(gz && archive_write_add_filter_gzip(a) != ARCHIVE_OK) ||
		archive_write_set_bytes_per_block(a, ARCHIVE_BLOCK) != ARCHIVE_OK ||
		archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK) {
		free(buf);
		archive_entry_free(e);
		if (a)
			archive_write_free(a);
		if (dfd >= 0)
			close(dfd);
		cp_listing_put(files);
		return cp_fail_errno(r, -ENOMEM, "starting the archive");
	}
	char target[32];
	snprintf(target, sizeof(target), "job:%lld", (long long)id);
	cp_audit(r, CP_AUDIT_JOB_DOWNLOAD, target, json_pack("{s:s, s:I}", "archive", format,
		"files", (json_int_t)(files ? cp_listing_count(files) : 0)));
	cp_header(r, "Content-Type", "%s", gz ? "application/gzip" : "application/x-tar");
	cp_header(r, "Content-Disposition", "attachment; filename=\"job-%lld.%s\"", (long long)id,
		format);
	cp_header(r, "Transfer-Encoding", "chunked");
	r->status = 200;
	cp_http_head(r, NULL, -1);

	int rc = archive_write_open2(a, &sink, NULL, archive_sink_write, NULL, NULL) ==
		ARCHIVE_OK ? 0 : -1;
	for (size_t i = 0; files && dfd >= 0 && rc == 0 && i < cp_listing_count(files); i++)
		rc = archive_add(a, e, dfd, id, cp_listing_path(files, i), buf);
	if (rc == 0 && archive_write_close(a) == ARCHIVE_OK && !sink.broken)
		mg_send_chunk(r->conn, "", 0); /* the last chunk: only a complete archive ends well */
	else
		tide_warn("jobs", "job %lld: archive cut short: %s", (long long)id,
			archive_error_string(a) ? archive_error_string(a) : "cannot read the dataset");
	sink.broken = true; /* archive_write_free must not write after a failure */
	archive_write_free(a);
	archive_entry_free(e);
	free(buf);
	if (dfd >= 0)
		close(dfd);
	cp_listing_put(files);
	return r->status;
}

/* ---- application and service mix ---------------------------------------------------------- */

static void
add_to(json_t *e, const char *key, long long v)
{
	json_object_set_new(e, key, json_integer(json_integer_value(json_object_get(e, key)) + v));
}

/* One summary row into sums[name] ({key: name, sessions, packets, bytes, link_packets,
 * link_bytes}); ds_* < 0: the summary has no dataset columns, the link's counts stand in. */
static void
add_row(json_t *sums, const char *key, const char *name, long long sessions, long long packets,
	long long bytes, long long ds_packets, long long ds_bytes)
{
	json_t *e = json_object_get(sums, name);
	if (!e) {
		e = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", key, name, "sessions",
			(json_int_t)0, "packets", (json_int_t)0, "bytes", (json_int_t)0,
			"link_packets", (json_int_t)0, "link_bytes", (json_int_t)0);
		json_object_set_new(sums, name, e);
	}
	add_to(e, "sessions", sessions);
	add_to(e, "packets", ds_packets < 0 ? packets : ds_packets);
	add_to(e, "bytes", ds_bytes < 0 ? bytes : ds_bytes);
	add_to(e, "link_packets", packets);
	add_to(e, "link_bytes", bytes);
}

/* Every row after the header of a summary file (fd, taken over) to row(line, sums). */
static void
each_row(int fd, json_t *sums, void (*row)(const char *line, json_t *sums))
{
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return;
	}
	char line[512];
	bool header = true;
	while (fgets(line, sizeof(line), f)) {
		if (!header)
			row(line, sums);
		header = false;
	}
	fclose(f);
}

/* One row of <flows>.services.csv (service,sessions,packets,bytes[,dataset_packets,
 * dataset_bytes]) into sums, counted as applications are (app_row). */
static void
service_row(const char *line, json_t *sums)
{
	char name[128];
	long long sessions, packets, bytes, ds_packets = -1, ds_bytes = -1;
	int n = sscanf(line, "%127[^,],%lld,%lld,%lld,%lld,%lld", name, &sessions, &packets,
		&bytes, &ds_packets, &ds_bytes);
	if (n == 4 || n == 6)
		add_row(sums, "service", name, sessions, packets, bytes, n == 6 ? ds_packets : -1,
			n == 6 ? ds_bytes : -1);
}

/* One row of <flows>.summary.csv (app,group,sessions,packets,bytes[,dataset_packets,
 * dataset_bytes]) into sums: packets and bytes are what the dataset holds of the sessions
 * (link_packets, link_bytes what the link carried in them); a summary without the dataset
 * columns (classification without shards) counts the link's. */
static void
app_row(const char *line, json_t *sums)
{
	char app[128], group[128];
	long long sessions, packets, bytes, ds_packets, ds_bytes;
	int n = sscanf(line, "%127[^,],%127[^,],%lld,%lld,%lld,%lld,%lld", app, group,
		&sessions, &packets, &bytes, &ds_packets, &ds_bytes);
	if (n < 5) {
		group[0] = '\0';
		n = sscanf(line, "%127[^,],,%lld,%lld,%lld,%lld,%lld", app, &sessions, &packets,
			&bytes, &ds_packets, &ds_bytes) + 1;
	}
	if (n != 5 && n != 7)
		return;
	add_row(sums, "app", app, sessions, packets, bytes, n == 7 ? ds_packets : -1,
		n == 7 ? ds_bytes : -1);
}

static int
compare_bytes(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "bytes"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "bytes"));
	return x < y ? 1 : x > y ? -1 : 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t l = strlen(s), n = strlen(suffix);
	return l > n && strcmp(s + l - n, suffix) == 0;
}

/* sums' entries as an array, biggest (dataset bytes) first; consumes sums */
static json_t *
by_bytes(json_t *sums)
{
	size_t n = json_object_size(sums), i = 0;
	json_t **v = n ? calloc(n, sizeof(*v)) : NULL, *items = json_array();
	const char *k;
	json_t *e;
	json_object_foreach(sums, k, e)
		if (v)
			v[i++] = e;
	if (v)
		qsort(v, n, sizeof(*v), compare_bytes);
	for (i = 0; v && i < n; i++)
		json_array_append(items, v[i]);
	free(v);
	json_decref(sums);
	return items;
}

/* GET /jobs/{id}/apps: sessions, packets and bytes per application ("items") and per service
 * ("services"), from every flow file's summaries (flows/<drone>/<link>.csv.summary.csv and
 * .services.csv), biggest first. */
static int
get_apps(struct cp_req *r)
{
	int64_t id;
	if (cp_jobs_load(r, &id, NULL, NULL))
		return r->status;
	json_t *sums = json_object(), *services = json_object();
	int fd = cp_dataset_open(r->srv->opt->data_dir, id);
	int flows = fd >= 0 ? openat(fd, "flows", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		O_CLOEXEC) : -1;
	DIR *d = flows >= 0 ? fdopendir(flows) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *sd = sub >= 0 ? fdopendir(sub) : NULL;
		struct dirent *f;
		while (sd && (f = readdir(sd))) {
			bool apps = ends_with(f->d_name, ".summary.csv");
			if (f->d_name[0] == '.' || (!apps && !ends_with(f->d_name, ".services.csv")))
				continue;
			int ffd = openat(dirfd(sd), f->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (ffd >= 0 && apps)
				each_row(ffd, sums, app_row);
			else if (ffd >= 0)
				each_row(ffd, services, service_row);
		}
		if (sd)
			closedir(sd);
		else if (sub >= 0)
			close(sub);
	}
	if (d)
		closedir(d);
	else if (flows >= 0)
		close(flows);
	if (fd >= 0)
		close(fd);
	return cp_reply(r, 200, json_pack("{s:o, s:o}", "items", by_bytes(sums), "services",
		by_bytes(services)));
}

CP_ROUTE_TABLE(cp_api_datasets_routes,
	{ "GET", "/api/v1/jobs/{id}/files", CP_PERM_JOBS_READ, get_files },
	{ "GET", "/api/v1/jobs/{id}/files/{path...}", CP_PERM_JOBS_READ, get_file },
	{ "GET", "/api/v1/jobs/{id}/archive", CP_PERM_JOBS_READ, get_archive },
	{ "GET", "/api/v1/jobs/{id}/script-log", CP_PERM_JOBS_READ, get_script_log },
	{ "GET", "/api/v1/jobs/{id}/apps", CP_PERM_JOBS_READ, get_apps },
);
