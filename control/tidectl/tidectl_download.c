/* tidectl_download.c — `tidectl download`: a job's dataset, as the whole archive (one streamed
 * tar or tar.gz) or as single files, with a progress bar, verified against the listing's sizes
 * and sha256 (GET /jobs/{id}/files).
 *
 * Single files are resumable: bytes land in DEST.part, a later run (or a retry after a dropped
 * connection, --retries) asks for the rest with Range and the whole file is hashed before it is
 * renamed to DEST; a mismatch removes the .part so no bad bytes are built upon. The archive is
 * streamed with chunked encoding and no length, so it cannot be resumed: it is written to
 * DEST.part, every member is checked against the listing (libarchive), and only then renamed.
 * Listing paths are checked before they become local paths: no "..", no absolute paths. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "tidectl.h"
#include "tidectl_out.h"
#include "tide_fs.h"
#include "tide_units.h"

extern const struct tc_cmd tc_download_cmds[];

struct dl {
	const struct tc_cmd *cmd;
	struct tc_ctx *c;
	const char *out, *format;
	bool files, no_verify, no_resume;
	long long retries;
	uint64_t rate;  /* bytes/s, 0 = unlimited */
	json_t *report; /* [{"path","dest","size","sha256","verified"}] */
	char archive[1024];
};

enum { O_OUT = 1, O_FORMAT, O_FILES, O_NOVERIFY, O_NORESUME, O_RETRIES, O_RATE };

static const struct option dl_opts[] = {
	{ "output", required_argument, NULL, O_OUT },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "files", no_argument, NULL, O_FILES },
	{ "no-verify", no_argument, NULL, O_NOVERIFY },
	{ "no-resume", no_argument, NULL, O_NORESUME },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "limit-rate", required_argument, NULL, O_RATE },
	{ NULL, 0, NULL, 0 },
};

static int
dl_opt(void *arg, int opt, const char *v)
{
	struct dl *d = arg;
	switch (opt) {
	case 'o': case O_OUT: d->out = v; break;
	case O_FORMAT:
		if (strcmp(v, "tar") && strcmp(v, "tar.gz"))
			return tc_usage_error(d->cmd, "--format: tar or tar.gz");
		d->format = v;
		break;
	case O_FILES: d->files = true; break;
	case O_NOVERIFY: d->no_verify = true; break;
	case O_NORESUME: d->no_resume = true; break;
	case O_RETRIES:
		d->retries = atoll(v);
		if (d->retries < 0 || d->retries > 100)
			return tc_usage_error(d->cmd, "--retries: 0 to 100");
		break;
	case O_RATE:
		if (tide_parse_size(v, &d->rate) < 0 || d->rate < 1024)
			return tc_usage_error(d->cmd, "--limit-rate '%s': bytes per second, at least 1k", v);
		break;
	default: return TC_USAGE;
	}
	return 0;
}

/* ---- hashing and paths ------------------------------------------------------------------- */

/* A listing path that is safe to use under a local directory. */
static bool
safe_path(const char *p)
{
	if (!*p || *p == '/' || strlen(p) > 1024)
		return false;
	for (const char *s = p; *s;) {
		size_t l = strcspn(s, "/");
		if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += l;
		if (*s == '/')
			s++;
	}
	return strcspn(p, "\n\r") == strlen(p);
}

static int
mkparents(const char *path)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static void
pace(uint64_t rate, double t0, uint64_t bytes)
{
	if (!rate)
		return;
	double ahead = (double)bytes / (double)rate - (tc_now() - t0);
	if (ahead > 0.001) {
		struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

/* ---- one file, resumable ----------------------------------------------------------------- */

struct file_sink {
	int fd;
	struct tc_http_resp *rs;
	bool started;
	uint64_t have, got;
	uint64_t rate;
	double t0;
	struct tc_progress *p;
};

static int
file_sink(void *arg, const char *buf, size_t n)
{
	struct file_sink *s = arg;
	if (!s->started) {
		s->started = true;
		/* the server may answer the whole file (200) to a Range request */
		if (s->rs->status == 200 && s->have > 0) {
			if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
				return -1;
			s->have = 0;
		}
	}
	while (n > 0) {
		ssize_t w = write(s->fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
		s->got += (uint64_t)w;
	}
	tc_progress_update(s->p, s->have + s->got);
	pace(s->rate, s->t0, s->got);
	return 0;
}

static int
fetch_file(struct dl *d, long long id, const json_t *entry, const char *dest)
{
	struct tc_ctx *c = d->c;
	const char *path = tc_jstr(entry, "path");
	const char *want = tc_jstr(entry, "sha256");
	uint64_t size = (uint64_t)tc_jint(entry, "size");
	char part[2100], url[3200], esc[3000], hex[65] = "";
	snprintf(part, sizeof(part), "%s.part", dest);
	if (mkparents(dest) < 0) {
		tc_err("cannot create the directories of %s: %s", dest, strerror(errno));
		return TC_ERR;
	}
	snprintf(url, sizeof(url), "/api/v1/jobs/%lld/files/%s", id, tc_escape(path, true, esc,
		sizeof(esc)));
	if (d->no_resume)
		unlink(part);
	int fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		tc_err("cannot write %s: %s", part, strerror(errno));
		return TC_ERR;
	}
	struct tc_progress p;
	tc_progress_start(&p, path, size, 0, c->quiet || c->json);
	int rc = 0;
	for (long long attempt = 0; attempt <= d->retries; attempt++) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			rc = TC_ERR;
			break;
		}
		uint64_t have = (uint64_t)st.st_size;
		if (have > size) {
			if (ftruncate(fd, 0) < 0) {
				rc = TC_ERR;
				break;
			}
			have = 0;
		}
		if (have == size && size > 0) {
			rc = 0;
			break;
		}
		if (lseek(fd, (off_t)have, SEEK_SET) < 0) {
			rc = TC_ERR;
			break;
		}
		if (have > 0 && !c->quiet && !c->json)
			fprintf(stderr, "%s: resuming at byte %llu of %llu\n", path,
				(unsigned long long)have, (unsigned long long)size);
		char range[64];
		snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)have);
		struct tc_http_resp rs;
		struct file_sink s = { .fd = fd, .rs = &rs, .have = have, .rate = d->rate,
			.t0 = tc_now(), .p = &p };
		p.base = have;
		rc = tc_api_stream(c, url, have ? range : NULL, file_sink, &s, &rs);
		int status = rs.status;
		tc_http_resp_free(&rs);
		if (rc == 0)
			break;
		if (status == 416) {
			/* the .part is not a prefix of this file: start again */
			if (ftruncate(fd, 0) < 0)
				break;
			continue;
		}
		if (rc != TC_VERIFY && rc != TC_UNREACHABLE)
			break;
		if (attempt < d->retries) {
			tc_progress_end(&p);
			fprintf(stderr, "tidectl: %s: retrying (%lld of %lld)\n", path, attempt + 1,
				d->retries);
			sleep(1);
		}
	}
	tc_progress_end(&p);
	if (close(fd) < 0 && !rc)
		rc = TC_ERR;
	if (rc) {
		if (rc == TC_VERIFY || rc == TC_UNREACHABLE)
			fprintf(stderr, "tidectl: %s stays incomplete in %s; run the same command again "
				"to resume\n", path, part);
		return rc;
	}
	uint64_t got = 0;
	if (tide_sha256_file(part, 0, hex, &got) < 0) {
		tc_err("cannot read %s back", part);
		return TC_ERR;
	}
	bool verified = false;
	if (got != size) {
		tc_err("%s: %llu bytes, the listing says %llu", path, (unsigned long long)got,
			(unsigned long long)size);
		unlink(part);
		return TC_VERIFY;
	}
	if (*want && !d->no_verify) {
		if (strcmp(want, hex) != 0) {
			tc_err("%s: sha256 %s does not match the listing's %s; removed", path, hex, want);
			unlink(part);
			return TC_VERIFY;
		}
		verified = true;
	}
	if (rename(part, dest) < 0) {
		tc_err("cannot rename %s to %s: %s", part, dest, strerror(errno));
		return TC_ERR;
	}
	json_array_append_new(d->report, json_pack("{s:s,s:s,s:I,s:s,s:b}", "path", path, "dest",
		dest, "size", (json_int_t)size, "sha256", hex, "verified", verified));
	if (!c->quiet && !c->json)
		printf("%s  %s  %s\n", dest, hex, verified ? "sha256 ok" : "(no sha256 in the listing)");
	return 0;
}

/* ---- the whole archive ------------------------------------------------------------------- */

struct arch_sink {
	FILE *f;
	uint64_t got, rate;
	double t0;
	struct tc_progress *p;
};

static int
arch_sink(void *arg, const char *buf, size_t n)
{
	struct arch_sink *s = arg;
	if (fwrite(buf, 1, n, s->f) != n)
		return -1;
	s->got += n;
	tc_progress_update(s->p, s->got);
	pace(s->rate, s->t0, s->got);
	return 0;
}

/* Every listed file is in the archive under job-ID/ with its size and sha256, nothing else. */
static int
verify_archive(struct dl *d, const char *file, long long id, const json_t *items)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, file, 1 << 16) != ARCHIVE_OK) {
		tc_err("%s: not a readable archive: %s", file, archive_error_string(a));
		archive_read_free(a);
		return TC_VERIFY;
	}
	char prefix[48];
	int plen = snprintf(prefix, sizeof(prefix), "job-%lld/", id);
	json_t *seen = json_object();
	struct archive_entry *e;
	int rc = 0, r;
	static char buf[1 << 16];
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (strncmp(name, prefix, (size_t)plen) != 0) {
			tc_err("%s: unexpected member %s", file, name);
			rc = TC_VERIFY;
			break;
		}
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		la_ssize_t n;
		uint64_t size = 0;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
			EVP_DigestUpdate(md, buf, (size_t)n);
			size += (uint64_t)n;
		}
		unsigned char out[32];
		char hex[65];
		EVP_DigestFinal_ex(md, out, NULL);
		EVP_MD_CTX_free(md);
		tide_sha256_hex(out, hex);
		if (n < 0) {
			tc_err("%s: %s is cut short: %s", file, name, archive_error_string(a));
			rc = TC_VERIFY;
			break;
		}
		json_object_set_new(seen, name + plen, json_pack("{s:s,s:I}", "sha256", hex, "size",
			(json_int_t)size));
	}
	if (r != ARCHIVE_EOF && !rc) {
		tc_err("%s: the archive is damaged or incomplete: %s", file, archive_error_string(a));
		rc = TC_VERIFY;
	}
	archive_read_free(a);
	size_t i;
	json_t *f;
	int verified = 0;
	json_array_foreach((json_t *)items, i, f) {
		if (rc)
			break;
		const char *path = tc_jstr(f, "path"), *want = tc_jstr(f, "sha256");
		json_t *got = json_object_get(seen, path);
		if (!got) {
			tc_err("%s: %s is missing", file, path);
			rc = TC_VERIFY;
		} else if (tc_jint(got, "size") != tc_jint(f, "size")) {
			tc_err("%s: %s has %lld bytes, the listing says %lld", file, path,
				tc_jint(got, "size"), tc_jint(f, "size"));
			rc = TC_VERIFY;
		} else if (*want && strcmp(want, tc_jstr(got, "sha256")) != 0) {
			tc_err("%s: %s sha256 %s does not match the listing's %s", file, path,
				tc_jstr(got, "sha256"), want);
			rc = TC_VERIFY;
		} else {
			verified += *want != '\0';
			json_array_append_new(d->report, json_pack("{s:s,s:I,s:s,s:b}", "path", path,
				"size", tc_jint(f, "size"), "sha256", tc_jstr(got, "sha256"),
				"verified", *want != '\0'));
		}
	}
	if (!rc && json_object_size(seen) != json_array_size(items)) {
		tc_err("%s: %zu files, the listing has %zu", file, json_object_size(seen),
			json_array_size(items));
		rc = TC_VERIFY;
	}
	if (!rc && !d->c->quiet && !d->c->json)
		fprintf(stderr, "%zu files match the listing (%d by sha256, the rest by size)\n",
			json_array_size(items), verified);
	json_decref(seen);
	return rc;
}

static int
fetch_archive(struct dl *d, long long id, const json_t *items)
{
	struct tc_ctx *c = d->c;
	bool gz = d->format && strcmp(d->format, "tar.gz") == 0;
	char dest[1024], part[1100], url[96];
	if (d->out)
		snprintf(dest, sizeof(dest), "%s", d->out);
	else
		snprintf(dest, sizeof(dest), "job-%lld.%s", id, gz ? "tar.gz" : "tar");
	bool to_stdout = strcmp(dest, "-") == 0;
	snprintf(part, sizeof(part), "%s.part", dest);
	snprintf(url, sizeof(url), "/api/v1/jobs/%lld/archive%s", id, gz ? "?format=tar.gz" : "");
	FILE *f = to_stdout ? stdout : fopen(part, "we");
	if (!f) {
		tc_err("cannot write %s: %s", part, strerror(errno));
		return TC_ERR;
	}
	uint64_t total = 0;
	size_t i;
	json_t *it;
	json_array_foreach((json_t *)items, i, it)
		total += (uint64_t)tc_jint(it, "size");
	struct tc_progress p;
	char label[64];
	snprintf(label, sizeof(label), "job-%lld archive", id);
	/* the tar is a little larger than its files; gzip smaller: the bar is an estimate */
	tc_progress_start(&p, label, gz ? 0 : total, 0, c->quiet || c->json);
	struct arch_sink s = { .f = f, .rate = d->rate, .t0 = tc_now(), .p = &p };
	struct tc_http_resp rs;
	int rc = tc_api_stream(c, url, NULL, arch_sink, &s, &rs);
	tc_http_resp_free(&rs);
	tc_progress_end(&p);
	if (!to_stdout && fclose(f) != 0 && !rc)
		rc = TC_ERR;
	if (to_stdout) {
		fflush(stdout);
		return rc;
	}
	if (rc) {
		unlink(part);
		if (rc == TC_VERIFY)
			tc_err("the archive stream broke off; nothing kept (archives cannot be resumed: "
				"use --files for a resumable download)");
		return rc;
	}
	if (!d->no_verify && (rc = verify_archive(d, part, id, items))) {
		unlink(part);
		return rc;
	}
	if (rename(part, dest) < 0) {
		tc_err("cannot rename %s to %s: %s", part, dest, strerror(errno));
		return TC_ERR;
	}
	if (!c->quiet && !c->json)
		printf("%s  %llu bytes\n", dest, (unsigned long long)s.got);
	snprintf(d->archive, sizeof(d->archive), "%s", dest);
	return 0;
}

static int
cmd_download(struct tc_ctx *c, int argc, char **argv)
{
	struct dl d = { .cmd = &tc_download_cmds[0], .c = c, .retries = 3 };
	int first, rc = tc_parse(c, d.cmd, argc, argv, "o:", dl_opts, dl_opt, &d, &first);
	if (rc >= 0)
		return rc;
	long long id;
	if (first >= argc || !(id = tc_id(argv[first])))
		return tc_usage_error(d.cmd, "a job id is needed");
	first++;
	char path[64];
	json_t *listing;
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/files", id);
	if ((rc = tc_api(c, "GET", path, NULL, &listing)))
		return rc;
	json_t *items = json_object_get(listing, "items");
	size_t i;
	json_t *f;
	json_array_foreach(items, i, f)
		if (!safe_path(tc_jstr(f, "path"))) {
			tc_err("the server listed an unsafe path '%s'; refused", tc_jstr(f, "path"));
			json_decref(listing);
			return TC_ERR;
		}
	d.report = json_array();
	if (first == argc && !d.files) {
		rc = fetch_archive(&d, id, items);
		if (!rc && c->json) {
			json_t *o = json_pack("{s:I,s:s,s:O}", "job", (json_int_t)id, "archive",
				d.archive, "files", d.report);
			tc_print_json(o);
			json_decref(o);
		}
		json_decref(d.report);
		json_decref(listing);
		return rc;
	}
	/* single files: the named ones, or all with --files */
	json_t *want = json_array();
	if (first == argc) {
		json_array_extend(want, items);
	} else {
		for (int a = first; a < argc; a++) {
			json_t *hit = NULL;
			json_array_foreach(items, i, f)
				if (strcmp(tc_jstr(f, "path"), argv[a]) == 0)
					hit = f;
			if (!hit) {
				tc_err("job %lld has no file '%s' (tidectl files list %lld)", id, argv[a], id);
				json_decref(want);
				json_decref(listing);
				json_decref(d.report);
				return TC_NOTFOUND;
			}
			json_array_append(want, hit);
		}
	}
	bool one = json_array_size(want) == 1 && first < argc;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", d.out ? d.out : "");
	if (!d.out)
		snprintf(dir, sizeof(dir), "job-%lld", id);
	int worst = 0;
	json_array_foreach(want, i, f) {
		char dest[2048];
		const char *p = tc_jstr(f, "path");
		struct stat st;
		if (one && d.out && !(stat(d.out, &st) == 0 && S_ISDIR(st.st_mode)))
			snprintf(dest, sizeof(dest), "%s", d.out);
		else if (one && !d.out)
			snprintf(dest, sizeof(dest), "%s", strrchr(p, '/') ? strrchr(p, '/') + 1 : p);
		else
			snprintf(dest, sizeof(dest), "%s/%s", dir, p);
		rc = fetch_file(&d, id, f, dest);
		if (rc && !worst)
			worst = rc;
	}
	if (c->json) {
		json_t *o = json_pack("{s:I,s:O}", "job", (json_int_t)id, "files", d.report);
		tc_print_json(o);
		json_decref(o);
	}
	json_decref(want);
	json_decref(listing);
	json_decref(d.report);
	return worst;
}

const struct tc_cmd tc_download_cmds[] = {
	{ "download", "ID [PATH...] [-o OUT] [--format tar|tar.gz] [--files]",
		"Download a job's dataset, verified against its listing (sizes and sha256).\n\n"
		"  (no PATH)          the whole dataset as one archive, OUT default job-ID.tar;\n"
		"                     every member is checked before the file is kept\n"
		"  PATH...            these files of the listing (tidectl files list ID); one PATH\n"
		"                     goes to OUT (a file or directory; default its base name),\n"
		"                     several to the directory OUT (default job-ID/)\n"
		"  --files            every file separately into OUT (default job-ID/): resumable\n"
		"  -o, --output OUT   where to write (- = stdout, archive only, unverified)\n"
		"  --format F         tar (default) or tar.gz\n"
		"  --retries N        resume a broken file download N times (default 3)\n"
		"  --no-resume        ignore an existing OUT.part\n"
		"  --no-verify        skip the sha256 check\n"
		"  --limit-rate RATE  at most RATE bytes per second (e.g. 1M)\n"
		"Single files are resumed from OUT.part with Range; a mismatch exits 8 and removes it.\n",
		cmd_download },
	{ NULL, NULL, NULL, NULL },
};
