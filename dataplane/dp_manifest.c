/* dp_manifest.c — the dataset manifest (see dp_manifest.h, and tide_layout.h for the dataset layout). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dp_manifest.h"
#include "dp_writer.h"
#include "tide_fs.h"
#include "tide_layout.h"
#include "tide_time.h"

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static json_t *
shards_json(const struct dp_writer_out *o, const char *rel_dir)
{
	json_t *arr = json_array();
	/* every complete shard in the directory: this run's (hashed as written) and any an
	 * interrupted earlier run into the same directory completed */
	DIR *d = opendir(o->dir);
	char *names[4096];
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < RTE_DIM(names)) {
		size_t l = strlen(e->d_name);
		if (l > 7 && strcmp(e->d_name + l - 7, ".pcapng") == 0)
			names[n++] = strdup(e->d_name);
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_object();
		char file[1024], hexsum[65];
		snprintf(file, sizeof(file), "%s/%s", rel_dir, names[i]);
		json_object_set_new(s, "file", json_string(file));
		const struct dp_shard_info *si = NULL;
		for (size_t k = 0; k < o->n_shards; k++)
			if (strcmp(o->shards[k].name, names[i]) == 0)
				si = &o->shards[k];
		if (si) {
			tide_sha256_hex(si->sha256, hexsum);
			json_object_set_new(s, "bytes", json_integer((json_int_t)si->bytes));
			json_object_set_new(s, "packets", json_integer((json_int_t)si->packets));
			json_object_set_new(s, "sha256", json_string(hexsum));
			json_object_set_new(s, "first_ts", json_integer((json_int_t)si->first_ts_ns));
			json_object_set_new(s, "last_ts", json_integer((json_int_t)si->last_ts_ns));
		} else {
			char path[4200];
			uint64_t size = 0;
			snprintf(path, sizeof(path), "%s/%s", o->dir, names[i]);
			if (tide_sha256_file(path, 0, hexsum, &size) == 0) {
				json_object_set_new(s, "bytes", json_integer((json_int_t)size));
				json_object_set_new(s, "sha256", json_string(hexsum));
			}
			json_object_set_new(s, "earlier_run", json_true());
		}
		json_array_append_new(arr, s);
		free(names[i]);
	}
	return arr;
}

json_t *
dp_manifest_lookback_json(const struct dp_capture *c, unsigned int j, uint32_t requested_s)
{
	/* how far back the dataset really begins: what the workers' rings still held */
	const struct dp_job *job = &c->jobs[j];
	uint64_t oldest = atomic_load(&((struct dp_job *)job)->lookback_oldest_ns);
	double reached = oldest < job->started_ns ? (double)(job->started_ns - oldest) / 1e9 : 0.0;
	uint64_t packets = 0;
	for (unsigned int i = 0; i < c->n_workers; i++)
		packets += c->workers[i].job[j].lookback;
	return json_pack("{s:i, s:f, s:I}", "requested_s", (int)requested_s, "reached_s",
		reached, "packets", (json_int_t)packets);
}

json_t *
dp_manifest_export_json(const char *url, const struct dp_export_stats *xs)
{
	return json_pack("{s:s, s:I, s:I, s:I}", "destination", url, "sent", (json_int_t)xs->sent,
		"lost_queue_full", (json_int_t)xs->queue_full, "lost_collector",
		(json_int_t)xs->send_failed);
}

json_t *
dp_manifest_selection_json(const struct dp_capture *c, unsigned int j)
{
	const struct dp_job *job = &c->jobs[j];
	if (!job->select)
		return NULL;
	uint64_t sum[DP_SELECT_COUNTER_MAX], unselected = 0;
	memcpy(sum, job->select_totals, sizeof(sum));
	for (unsigned int i = 0; i < c->n_workers; i++) {
		dp_select_add_counters(c->workers[i].sel[j], sum);
		unselected += c->workers[i].job[j].unselected;
	}
	return dp_select_counters_json(job->select, sum, unselected);
}

json_t *
dp_manifest_counters_json(const struct dp_totals *t)
{
	json_t *c = json_object();
	json_object_set_new(c, "received", json_integer((json_int_t)t->received));
	json_object_set_new(c, "matched", json_integer((json_int_t)t->matched));
	json_object_set_new(c, "filtered", json_integer((json_int_t)t->filtered));
	json_object_set_new(c, "unselected", json_integer((json_int_t)t->unselected));
	json_object_set_new(c, "written", json_integer((json_int_t)t->written));
	json_object_set_new(c, "bytes_written", json_integer((json_int_t)t->bytes_written));
	json_t *d = json_object();
	for (unsigned int i = 0; i < DP_DROP_MAX; i++)
		json_object_set_new(d, dp_drop_names[i], json_integer((json_int_t)t->dropped[i]));
	json_object_set_new(c, "dropped", d);
	json_t *p = json_object();
	for (unsigned int i = 0; i < DP_PARSE_STATUS_MAX; i++)
		json_object_set_new(p, dp_parse_status_names[i], json_integer((json_int_t)t->parse[i]));
	json_object_set_new(c, "parse", p);
	return c;
}

int
dp_manifest_write(const struct dp_capture *c, unsigned int j, const struct dp_manifest_info *mi,
	char *err, size_t err_size)
{
	const struct dp_job *job = &c->jobs[j];
	char buf[TIDE_TIME_LEN];
	json_t *m = json_object();
	json_object_set_new(m, "tide_version", json_string(TIDE_VERSION));
	json_object_set_new(m, "format", json_integer(1));
	json_object_set_new(m, "drone", json_string(mi->drone));
	tide_time_format((int64_t)(job->started_ns / 1000000u), buf);
	json_object_set_new(m, "started", json_string(buf));
	tide_time_format((int64_t)(job->ended_ns / 1000000u), buf);
	json_object_set_new(m, "ended", json_string(buf));

	json_t *p = json_deep_copy(mi->parameters);
	if (!json_is_object(p)) {
		json_decref(p);
		p = json_object();
	}
	json_object_set_new(p, "input", json_string(mi->input));
	json_object_set_new(p, "workers", json_integer(c->n_workers));
	json_object_set_new(m, "parameters", p);
	json_object_set_new(m, "stop_reason", json_string(mi->stop_reason ? mi->stop_reason :
		dp_stop_names[atomic_load(&((struct dp_job *)job)->stop_reason)]));
	if (mi->lookback_requested_s)
		json_object_set_new(m, "lookback", dp_manifest_lookback_json(c, j,
			mi->lookback_requested_s));
	if (mi->input_error && mi->input_error[0])
		json_object_set_new(m, "input_error", json_string(mi->input_error));

	struct dp_totals t;
	dp_stats_job(c, j, &t);
	json_object_set_new(m, "counters", dp_manifest_counters_json(&t));

	json_t *links = json_array();
	for (unsigned int l = 0; l < c->n_links; l++) {
		const struct dp_writer_out *out = &job->out[l];
		if (!(job->links >> l & 1) || !out->dir[0])
			continue;
		const struct dp_link *lk = &c->links[l];
		json_t *lj = json_object();
		json_object_set_new(lj, "name", json_string(lk->name));
		json_object_set_new(lj, "linktype", json_integer(lk->linktype));
		json_object_set_new(lj, "received",
			json_integer((json_int_t)dp_stats_link_received(c, l)));
		json_object_set_new(lj, "written", json_integer((json_int_t)out->written));
		const char *rel = out->dir + strlen(mi->out_dir) + 1;
		json_object_set_new(lj, "shards", shards_json(out, rel));
		json_array_append_new(links, lj);
	}
	json_object_set_new(m, "links", links);

	if (job->flows_path[0]) {
		json_t *fj = json_object();
		char hexsum[65];
		uint64_t size = 0;
		size_t dl = strlen(mi->out_dir);
		const char *rel = strncmp(job->flows_path, mi->out_dir, dl) == 0 &&
			job->flows_path[dl] == '/' ? job->flows_path + dl + 1 : job->flows_path;
		json_object_set_new(fj, "file", json_string(rel));
		if (tide_sha256_file(job->flows_path, 0, hexsum, &size) == 0) {
			json_object_set_new(fj, "bytes", json_integer((json_int_t)size));
			json_object_set_new(fj, "sha256", json_string(hexsum));
		}
		json_t *sj = json_object();
		for (unsigned int k = 0; k < DP_SESS_COUNTER_MAX; k++)
			json_object_set_new(sj, dp_sess_counter_names[k],
				json_integer((json_int_t)job->sess_totals[k]));
		json_object_set_new(fj, "sessions", sj);
		json_object_set_new(m, "flows", fj);
	}
	json_t *sel = dp_manifest_selection_json(c, j);
	if (sel)
		json_object_set_new(m, "selection", sel);
	/* every exported record is sent or lost by reason, as dp_export counts them */
	if (mi->export_url && mi->export_url[0] && mi->export_stats)
		json_object_set_new(m, "export", dp_manifest_export_json(mi->export_url,
			mi->export_stats));

	json_t *rec = json_array();
	for (unsigned int i = 0; i < job->n_recovered; i++) {
		json_t *r = json_object();
		char f[600];
		snprintf(f, sizeof(f), "%.500s.pcapng", job->recovered[i].file);
		json_object_set_new(r, "file", json_string(f));
		json_object_set_new(r, "action", json_string(job->recovered[i].action));
		json_array_append_new(rec, r);
	}
	json_object_set_new(m, "recovered", rec);

	char path[4200], tmp[4300];
	snprintf(path, sizeof(path), "%s/" TIDE_LAYOUT_MANIFEST, mi->out_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int rc = -1;
	char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	int fd = text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
	if (fd >= 0) {
		size_t len = strlen(text), off = 0;
		while (off < len) {
			ssize_t w = write(fd, text + off, len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		if (off == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0 && close(fd) == 0) {
			fd = -1;
			rc = rename(tmp, path);
		}
		if (fd >= 0)
			close(fd);
	}
	if (rc != 0) {
		snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(text);
	return rc;
}
