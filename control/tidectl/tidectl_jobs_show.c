/* tidectl_jobs_show.c — how `tidectl jobs show` (and `jobs create --wait`) prints one job:
 * its settings, its counters with each drop reason's hint from the Hive's registry, what a
 * selection by application kept, and its links. Apart from tidectl_jobs.c, which parses and
 * sends the commands, so that each file stays readable as jobs gain parameters. */
#include <string.h>

#include "tide_job.h"
#include "tidectl.h"
#include "tidectl_out.h"

/* "drone/link" of the job's first link, every link joined with "," in buf. */
void
tc_job_links(const json_t *job, char *buf, size_t len)
{
	json_t *links = json_object_get(job, "links");
	size_t n = 0;
	buf[0] = '\0';
	if (json_is_array(links) && json_array_size(links) > 0) {
		size_t i;
		json_t *l;
		json_array_foreach(links, i, l) {
			int w = snprintf(buf + n, len - n, "%s%s/%s", i ? "," : "", tc_jstr(l, "drone"),
				tc_jstr(l, "link"));
			if (w < 0 || (size_t)w >= len - n)
				break;
			n += (size_t)w;
		}
		return;
	}
	snprintf(buf, len, "%s/%s", tc_jstr(job, "drone"), tc_jstr(job, "link"));
}

static void
show_counters(const json_t *ct)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)ct, key, v) {
		if (json_is_object(v)) {
			const char *k2;
			json_t *v2;
			char line[1024] = "";
			size_t n = 0;
			json_object_foreach(v, k2, v2) {
				char t[64];
				tc_jtext(v2, t, sizeof(t));
				int w = snprintf(line + n, sizeof(line) - n, "%s%s=%s", n ? " " : "", k2, t);
				if (w < 0 || (size_t)w >= sizeof(line) - n)
					break;
				n += (size_t)w;
			}
			tc_kv(stdout, key, "%s", line);
		} else {
			char t[128];
			tc_jtext(v, t, sizeof(t));
			tc_kv(stdout, key, "%s", t);
		}
	}
}

/* Each non-zero drop reason with the hint the Hive's registry gives for it (GET
 * /api/v1/meta/counters: hints are never copied here); a Hive without that route gets the bare
 * numbers. */
static void
show_drops(struct tc_ctx *c, const json_t *counters)
{
	json_t *by = json_object_get(counters, "drops_by_reason"), *meta = NULL, *v;
	const char *reason;
	bool any = false;
	json_object_foreach(by, reason, v)
		any |= json_integer_value(v) > 0;
	if (!any)
		return;
	int status;
	if (tc_api_quiet(c, "GET", "/api/v1/meta/counters", NULL, &meta, &status))
		meta = NULL;
	printf("drops by reason:\n");
	json_object_foreach(by, reason, v) {
		if (json_integer_value(v) <= 0)
			continue;
		const char *hint = "";
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(meta, "drop_reasons"), i, r)
			if (!strcmp(tc_jstr(r, "name"), reason))
				hint = tc_jstr(r, "hint");
		printf("  %-12s %12lld  %s\n", reason, (long long)json_integer_value(v), hint);
	}
	json_decref(meta);
}

/* What a job selecting by application kept: each link's "selection" (its drone's report, in
 * the link's counters once it ended) summed over the links, numbers only, in show_counters'
 * form. Nothing for a job without apps or before a link reports it. */
static void
show_selection(const json_t *job)
{
	json_t *sum = json_object(), *l, *sel;
	size_t i;
	json_array_foreach(json_object_get(job, "links"), i, l) {
		if (!json_is_object(sel = json_object_get(json_object_get(l, "counters"), "selection")))
			continue;
		const char *k, *k2;
		json_t *v, *v2;
		json_object_foreach(sel, k, v) {
			if (json_is_integer(v)) {
				json_object_set_new(sum, k, json_integer(json_integer_value(
					json_object_get(sum, k)) + json_integer_value(v)));
				continue;
			}
			if (!json_is_object(v))
				continue; /* the list and the policy: the job's own, printed above */
			json_t *into = json_object_get(sum, k);
			if (!into)
				json_object_set_new(sum, k, into = json_object());
			json_object_foreach(v, k2, v2)
				json_object_set_new(into, k2, json_integer(json_integer_value(
					json_object_get(into, k2)) + json_integer_value(v2)));
		}
	}
	if (json_object_size(sum)) {
		printf("selection (unselected packets are counted in filtered, not lost):\n");
		show_counters(sum);
	}
	json_decref(sum);
}

void
tc_show_job(struct tc_ctx *c, const json_t *job)
{
	char links[512], t1[32], t2[32], t3[32], sz[32], dur[32];
	tc_job_links(job, links, sizeof(links));
	tc_kv(stdout, "id", "%lld", tc_jint(job, "id"));
	tc_kv(stdout, "name", "%s", tc_jstr(job, "name"));
	if (*tc_jstr(job, "description"))
		tc_kv(stdout, "description", "%s", tc_jstr(job, "description"));
	tc_kv(stdout, "state", "%s%s%s", tc_jstr(job, "state"), *tc_jstr(job, "reason") ? ": " : "",
		tc_jstr(job, "reason"));
	if (*tc_jstr(job, "pending_reason"))
		tc_kv(stdout, "waiting", "%s", tc_jstr(job, "pending_reason"));
	tc_kv(stdout, "owner", "%s", tc_jstr(job, "owner"));
	if (json_object_get(job, "group"))
		tc_kv(stdout, "group", "%s", tc_jstr(job, "group"));
	tc_kv(stdout, "links", "%s", links);
	tc_kv(stdout, "filter", "%s", *tc_jstr(job, "filter") ? tc_jstr(job, "filter") : "(every packet)");
	tc_fmt_bytes((uint64_t)tc_jint(job, "max_size"), sz, sizeof(sz));
	tc_fmt_duration(tc_jint(job, "max_duration"), dur, sizeof(dur));
	tc_kv(stdout, "limits", "%s, %s", sz, dur);
	tc_kv(stdout, "snaplen", "%lld%s", tc_jint(job, "snaplen"),
		tc_jint(job, "snaplen") ? "" : " (whole packets)");
	if (tc_jint(job, "max_packets"))
		tc_kv(stdout, "max packets", "%lld", tc_jint(job, "max_packets"));
	if (tc_jint(job, "lookback_s"))
		tc_kv(stdout, "look-back", "%llds", tc_jint(job, "lookback_s"));
	tc_kv(stdout, "anonymise", "%s", json_is_true(json_object_get(job, "anonymise")) ? "yes" : "no");
	tc_kv(stdout, "classify", "%s%s%s", json_is_true(json_object_get(job, "classify")) ? "yes" : "no",
		json_is_true(json_object_get(job, "classify")) ? ", sessions: " : "",
		json_is_true(json_object_get(job, "classify")) ? tc_jstr(job, "session_type") : "");
	if (*tc_jstr(job, "export"))
		tc_kv(stdout, "export", "%s", tc_jstr(job, "export"));
	json_t *apps = json_object_get(job, "apps");
	if (json_array_size(apps)) {
		char list[TIDE_JOB_APPS_MAX + 2 * TIDE_JOB_APPS_NAMES_MAX] = "";
		size_t i, n = 0;
		json_t *a;
		json_array_foreach(apps, i, a)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%.*s", i ? ", " : "",
				TIDE_JOB_APP_NAME_MAX, json_string_value(a) ?: "?");
		tc_kv(stdout, "apps", "%s (undecided sessions %s after %lld packets or %llds)", list,
			strcmp(tc_jstr(job, "apps_undecided"), "keep") ? "dropped" : "kept",
			tc_jint(job, "apps_packets"), tc_jint(job, "apps_wait"));
	}
	if (json_is_true(json_object_get(job, "has_script")))
		tc_kv(stdout, "script", "yes, timeout %llds", tc_jint(job, "script_timeout"));
	tc_fmt_time(tc_jstr(job, "created_at"), t1, sizeof(t1));
	tc_fmt_time(tc_jstr(job, "started_at"), t2, sizeof(t2));
	tc_fmt_time(tc_jstr(job, "ended_at"), t3, sizeof(t3));
	tc_kv(stdout, "created", "%s", t1);
	tc_kv(stdout, "started", "%s", t2);
	tc_kv(stdout, "ended", "%s", t3);
	json_t *pr = json_object_get(job, "progress");
	if (json_is_object(pr)) {
		char b[32];
		tc_fmt_bytes((uint64_t)tc_jint(pr, "bytes"), b, sizeof(b));
		tc_kv(stdout, "progress", "%s of %s, %llds of %llds", b, sz, tc_jint(pr, "elapsed"),
			tc_jint(pr, "max_duration"));
	}
	json_t *ct = json_object_get(job, "counters");
	if (json_object_size(ct)) {
		printf("counters:\n");
		show_counters(ct);
		show_drops(c, ct);
	}
	show_selection(job);
	json_t *ls = json_object_get(job, "links");
	if (json_is_array(ls) && json_array_size(ls)) {
		static const char *const hdr[] = { "DRONE", "LINK", "STATE", "PACKETS", "BYTES",
			"DROPS", "REASON", NULL };
		struct tc_table *t = tc_table_new(hdr);
		size_t i;
		json_t *l;
		json_array_foreach(ls, i, l) {
			json_t *lc = json_object_get(l, "counters");
			char p[24], b[32], d[24];
			snprintf(p, sizeof(p), "%lld", tc_jint(lc, "packets"));
			tc_fmt_bytes((uint64_t)tc_jint(lc, "bytes"), b, sizeof(b));
			snprintf(d, sizeof(d), "%lld", tc_jint(lc, "drops"));
			const char *cells[] = { tc_jstr(l, "drone"), tc_jstr(l, "link"),
				tc_jstr(l, "state"), p, b, d, tc_jstr(l, "reason") };
			tc_table_add(t, cells);
		}
		printf("\n");
		tc_table_print(t, stdout);
		tc_table_free(t);
	}
}
