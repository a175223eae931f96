/* dp_spool.c — the drone's spool and upload thread (see dp_agent.h, docs/DRONES.md).
 *
 * Spool: SPOOL/<job>-<link>/ is a capture's dataset directory; SPOOL/<job>-<link>.counters its
 * last live counters. Closed shards are uploaded while the capture runs (stream_shards), the
 * rest when it has ended (upload_capture), each with its SHA-256; the Hive's answer decides:
 * stored, not now (retry with back-off), gone, or refused for good (the capture fails with the
 * Hive's reason). A capture left by an earlier drone process is adopted and sent as failed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_agent.h"
#include "dp_upload.h"
#include "tide_fs.h"
#include "tide_layout.h"
#include "tide_log.h"

/* Spool paths are bounded by PATH_MAX and link names by LINK_NAME_MAX: a truncated snprintf
 * could only shorten a path, which then fails to open and is reported. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* ---- uploads ------------------------------------------------------------------------------ */

/* PUTs one file to the Hive's HTTP port (named in its welcome); the Hive's answer in *ans
 * (status 0: it gave none, or has not said yet where uploads go — "not now"). */
static void
put_file(struct agent *a, long long job, const char *path, const char *dest, const char *sha,
	long long size, struct dp_upload_answer *ans)
{
	char target[PATH_MAX];
	snprintf(target, sizeof(target), UPLOAD_PREFIX "%lld/%s", job, dest);
	int port = atomic_load(&a->upload_port);
	int fd = port ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		memset(ans, 0, sizeof(*ans));
		snprintf(ans->message, sizeof(ans->message), "%s", port ? strerror(errno) :
			"not welcomed yet: the Hive has not said where uploads go");
		return;
	}
	dp_upload_put(&a->hive, port, atomic_load(&a->upload_tls), target, a->token, fd, size,
		sha, ans);
	close(fd);
}

enum upload_outcome {
	UPLOADED,        /* every file stored */
	UPLOAD_LATER,    /* the Hive cannot take them now: the whole capture again, later */
	UPLOAD_REFUSED,  /* a file was refused for good: c->reason says why */
	UPLOAD_GONE,     /* the job no longer exists on the Hive */
};

/* The reason a refused upload gives the capture (and so the job): the Hive's own words. */
static void
refusal(struct capture *c, const struct dp_upload_answer *ans)
{
	if (ans->status == 507 && strcmp(ans->code, "disk_full") == 0)
		snprintf(c->reason, sizeof(c->reason), "disk full on the Hive: %s", ans->message);
	else
		snprintf(c->reason, sizeof(c->reason), "upload refused by the Hive (HTTP %d %s): %s",
			ans->status, ans->code[0] ? ans->code : "error", ans->message);
}

static bool
already_sent(const json_t *sent, const char *dest)
{
	size_t i;
	json_t *f;
	json_array_foreach(sent, i, f)
		if (strcmp(json_string_value(json_object_get(f, "path")), dest) == 0)
			return true;
	return false;
}

/* Uploads one capture's files; *list receives those stored (UPLOADED or UPLOAD_REFUSED), the
 * shards sent while it ran included. */
static enum upload_outcome
upload_capture(struct agent *a, struct capture *c, json_t **list)
{
	static struct dp_upload_file files[MAX_UPLOAD_FILES];
	int n = dp_upload_collect(c->dir, a->name, a->links[c->link].name, files,
		MAX_UPLOAD_FILES);
	*list = c->sent ? json_deep_copy(c->sent) : json_array();
	for (int i = 0; i < n; i++) {
		if (already_sent(c->sent, files[i].dest))
			continue;
		char path[PATH_MAX + 600], sha[65];
		uint64_t size = 0;
		snprintf(path, sizeof(path), "%s/%s", c->dir, files[i].rel);
		if (tide_sha256_file(path, 0, sha, &size) != 0)
			continue;
		struct dp_upload_answer ans;
		for (int attempt = 0;; attempt++) {
			if (strcmp(files[i].dest, c->refused_dest) == 0) {
				ans = c->refused;   /* refused for good while streaming: not sent again */
				break;
			}
			put_file(a, c->job, path, files[i].dest, sha, size, &ans);
			/* a body damaged on the way is sent again, twice at most */
			if (ans.status != 422 || strcmp(ans.code, "checksum_mismatch") || attempt == 2)
				break;
		}
		switch (dp_upload_verdict(&ans)) {
		case DP_UPLOAD_STORED:
			json_array_append_new(*list, json_pack("{s:s, s:I, s:s}", "path",
				files[i].dest, "size", (json_int_t)size, "sha256", sha));
			break;
		case DP_UPLOAD_RETRY:
			tide_warn("drone", "job %lld: %s: the Hive cannot take it now (%s%s%s); trying again later",
				c->job, files[i].dest, ans.status ? "HTTP " : "",
				ans.status ? ans.code : "", ans.message);
			json_decref(*list);
			*list = NULL;
			return UPLOAD_LATER;
		case DP_UPLOAD_GONE:
			tide_info("drone", "job %lld: %s: the Hive no longer has this job (HTTP 404)", c->job,
				files[i].dest);
			json_decref(*list);
			*list = NULL;
			return UPLOAD_GONE;
		case DP_UPLOAD_REFUSED:
			refusal(c, &ans);
			tide_warn("drone", "job %lld: %s refused (HTTP %d %s: %s); the capture fails, not retried",
				c->job, files[i].dest, ans.status, ans.code, ans.message);
			return UPLOAD_REFUSED;
		}
	}
	return UPLOADED;
}

/* Shards reach the Hive as they close, while their capture runs: a drone lost mid-job loses
 * at most the shard it had open. One pass over the running captures; a Hive that cannot take
 * a file now ends the pass (the next one, a second later, tries again); a refusal is left to
 * the capture's final upload, which reports it. Called with a->mu held; releases it while
 * uploading. */
static void
stream_shards(struct agent *a)
{
	static struct dp_upload_file files[MAX_UPLOAD_FILES];
	for (int idx = 0; idx < MAX_CAPTURES; idx++) {
		struct capture *c = &a->caps[idx];
		if (c->state != CAP_RUNNING && c->state != CAP_STOPPING)
			continue;
		/* the capture's identity and directory do not change while it runs */
		long long job = c->job;
		char dir[PATH_MAX], link[LINK_NAME_MAX + 1];
		snprintf(dir, sizeof(dir), "%s", c->dir);
		snprintf(link, sizeof(link), "%s", a->links[c->link].name);
		json_t *sent = json_incref(c->sent);
		pthread_mutex_unlock(&a->mu);
		int n = dp_upload_collect(dir, a->name, link, files, MAX_UPLOAD_FILES);
		bool later = false;
		for (int i = 0; i < n && !later && !atomic_load(&a->quit); i++) {
			/* only closed shards: the flow records and the manifest are written to the
			 * end */
			if (strncmp(files[i].rel, TIDE_LAYOUT_SHARDS "/", sizeof(TIDE_LAYOUT_SHARDS)) ||
				already_sent(sent, files[i].dest))
				continue;
			char path[PATH_MAX + 600], sha[65];
			uint64_t size = 0;
			snprintf(path, sizeof(path), "%s/%s", dir, files[i].rel);
			if (tide_sha256_file(path, 0, sha, &size) != 0)
				continue;
			if (strcmp(files[i].dest, c->refused_dest) == 0)
				continue;   /* refused for good already: the final upload reports it */
			struct dp_upload_answer ans;
			put_file(a, job, path, files[i].dest, sha, size, &ans);
			enum dp_upload_verdict v = dp_upload_verdict(&ans);
			if (v == DP_UPLOAD_STORED) {
				json_array_append_new(sent, json_pack("{s:s, s:I, s:s}", "path",
					files[i].dest, "size", (json_int_t)size, "sha256", sha));
			} else {
				if (v == DP_UPLOAD_REFUSED) {
					/* only this thread writes them; read by this thread's final upload */
					snprintf(c->refused_dest, sizeof(c->refused_dest), "%s",
						files[i].dest);
					c->refused = ans;
				}
				later = true;
			}
		}
		json_decref(sent);
		pthread_mutex_lock(&a->mu);
	}
}

void *
dp_spool_uploader(void *arg)
{
	struct agent *a = arg;
	int pause_ms = UPLOAD_RETRY_MS;
	pthread_mutex_lock(&a->mu);
	while (!atomic_load(&a->quit)) {
		if (a->n_upload == 0) {
			stream_shards(a);
			if (a->n_upload || atomic_load(&a->quit))
				continue;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&a->upload_cv, &a->mu, &ts);
			continue;
		}
		int idx = a->upload_queue[0];
		memmove(a->upload_queue, a->upload_queue + 1, sizeof(int) * (size_t)--a->n_upload);
		pthread_mutex_unlock(&a->mu);
		struct capture *c = &a->caps[idx];
		json_t *files = NULL;
		enum upload_outcome o = c->cancelled ? UPLOADED : upload_capture(a, c, &files);
		pthread_mutex_lock(&a->mu);
		if (o == UPLOAD_LATER) {
			/* again after a pause (a capture that ends meanwhile wakes us early) */
			a->upload_queue[a->n_upload++] = idx;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += pause_ms / 1000;
			ts.tv_nsec += (long)(pause_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (!atomic_load(&a->quit))
				pthread_cond_timedwait(&a->upload_cv, &a->mu, &ts);
			pause_ms = pause_ms * 2 > UPLOAD_RETRY_MAX_MS ? UPLOAD_RETRY_MAX_MS : pause_ms * 2;
			continue;
		}
		pause_ms = UPLOAD_RETRY_MS;
		json_decref(c->ended);
		c->ended = files ? files : json_array(); /* picked up by the main loop */
		if (o == UPLOAD_GONE)
			json_object_set_new(c->counters, "job_gone", json_true());
		c->upload_refused = o == UPLOAD_REFUSED;
		a->upload_done[idx] = true;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int
dp_spool_remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			dp_spool_remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	return rmdir(path) == 0 ? 0 : -errno;
}

void
dp_spool_release(struct agent *a, struct capture *c)
{
	char p[PATH_MAX + 8];
	dp_spool_remove_tree(c->dir);
	snprintf(p, sizeof(p), "%s.log", c->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s.key", c->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s.counters", c->dir);
	unlink(p);
	pthread_mutex_lock(&a->mu);
	json_decref(c->counters);
	json_decref(c->ended);
	json_decref(c->sent);
	memset(c, 0, sizeof(*c));
	pthread_mutex_unlock(&a->mu);
}

/* What a capture left by an earlier agent counted: its manifest's counters when it had ended,
 * else those of its last status. */
static json_t *
leftover_counters(const char *dir)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/" TIDE_LAYOUT_MANIFEST, dir);
	json_t *man = json_load_file(path, 0, NULL);
	json_t *mc = json_object_get(man, "counters");
	json_t *out = json_is_object(mc) ? counters_from(mc) : NULL;
	json_decref(man);
	if (!out) {
		snprintf(path, sizeof(path), "%s.counters", dir);
		out = json_load_file(path, 0, NULL);
	}
	if (!json_is_object(out)) {
		json_decref(out);
		out = json_object();
	}
	return out;
}

/* Spool directories of an earlier agent: their captures died with it. */
void
dp_spool_adopt_leftovers(struct agent *a)
{
	DIR *d = opendir(a->spool);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		long long job;
		char link[64];
		if (e->d_type != DT_DIR || sscanf(e->d_name, "%lld-%63s", &job, link) != 2 || job <= 0)
			continue;
		int li = find_link(a, link);
		struct capture *c = NULL;
		for (int i = 0; i < MAX_CAPTURES && !c; i++)
			if (a->caps[i].state == CAP_FREE)
				c = &a->caps[i];
		if (li < 0 || !c)
			continue;
		memset(c, 0, sizeof(*c));
		c->job = job;
		c->link = li;
		c->leftover = true;
		snprintf(c->dir, sizeof(c->dir), "%s/%s", a->spool, e->d_name);
		c->counters = leftover_counters(c->dir);
		snprintf(c->reason, sizeof(c->reason), "drone restarted during the capture");
		tide_info("drone", "job %lld on %s: left by an earlier drone process; "
			"sending its completed files",
			job, link);
		c->state = CAP_UPLOADING;
		int idx = (int)(c - a->caps);
		a->upload_queue[a->n_upload++] = idx;
	}
	if (d)
		closedir(d);
}

