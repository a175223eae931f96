/* tide_job.c — a job's capture parameters from and to JSON, checked against one table (see
 * tide_job.h). The table is the only place a member's name, type and bounds are written. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tide_export.h"
#include "tide_job.h"
#include "tide_units.h"
#include "tide_member.h"

/* K_SIZE and K_DURATION are integers (bytes, seconds) that may also be given as strings in the
 * grammar of tide_units.h ("10G", "1h30m"): the console and the Python client pass a user's
 * words through and this table decides, as for tidectl and the dataplane's command line. */
enum kind { K_STRING, K_BOOL, K_INT, K_SESSION, K_SIZE, K_DURATION, K_APPS, K_UNDECIDED };

struct field {
	const char *name;
	enum kind kind;
	bool required;
	int64_t min, max;    /* integer value, or string bytes */
	const char *zero;    /* integers: 0 is also allowed and means this */
	size_t off;          /* in struct tide_job */
	size_t size;         /* of that member (integers) */
};

#define AT(m) offsetof(struct tide_job, m), sizeof(((struct tide_job *)0)->m)
static const struct field fields[] = {
	{ "filter", K_STRING, false, 0, TIDE_JOB_FILTER_MAX, NULL, AT(filter) },
	{ "snaplen", K_INT, false, TIDE_JOB_SNAPLEN_MIN, TIDE_JOB_SNAPLEN_MAX, "whole packets",
		AT(snaplen) },
	{ "anonymise", K_BOOL, false, 0, 0, NULL, AT(anonymise) },
	{ "classify", K_BOOL, false, 0, 0, NULL, AT(classify) },
	{ "session_type", K_SESSION, false, 0, 0, NULL, AT(session_type) },
	{ "max_size", K_SIZE, true, TIDE_JOB_MAX_SIZE_MIN, TIDE_JOB_MAX_SIZE_MAX, NULL,
		AT(max_size) },
	{ "max_duration", K_DURATION, true, 1, TIDE_JOB_MAX_DURATION_MAX, NULL, AT(max_duration) },
	{ "max_packets", K_INT, false, 1, TIDE_JOB_MAX_PACKETS_MAX, "unlimited",
		AT(max_packets) },
	{ "lookback_s", K_DURATION, false, 1, TIDE_JOB_LOOKBACK_MAX, "no look-back", AT(lookback_s) },
	{ "shard_size", K_SIZE, false, TIDE_JOB_SHARD_SIZE_MIN, TIDE_JOB_SHARD_SIZE_MAX,
		"the default, 256 MiB", AT(shard_size) },
	{ "shard_time", K_DURATION, false, 1, TIDE_JOB_SHARD_TIME_MAX, "no time limit",
		AT(shard_time) },
	{ "export", K_STRING, false, 0, TIDE_JOB_EXPORT_MAX, NULL, AT(export) },
	{ "apps", K_APPS, false, 0, TIDE_JOB_APPS_MAX, NULL, AT(apps) },
	{ "apps_undecided", K_UNDECIDED, false, 0, 0, NULL, AT(apps_keep_undecided) },
	{ "apps_packets", K_INT, false, 1, TIDE_JOB_APPS_PACKETS_MAX, NULL, AT(apps_packets) },
	{ "apps_wait", K_DURATION, false, 1, TIDE_JOB_APPS_WAIT_MAX, NULL, AT(apps_wait) },
};
#undef AT
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const session_names[TIDE_SESSION_MAX] = {
#define _(sym, name) name,
	TIDE_SESSION_LIST(_)
#undef _
};

void
tide_job_init(struct tide_job *job)
{
	memset(job, 0, sizeof(*job));
	job->session_type = TIDE_SESSION_BIFLOW;
	job->apps_packets = TIDE_JOB_APPS_PACKETS_DEFAULT;
	job->apps_wait = TIDE_JOB_APPS_WAIT_DEFAULT;
}

bool
tide_job_is_field(const char *name)
{
	for (size_t i = 0; name && i < N_FIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return true;
	return false;
}

const char *
tide_session_type_name(enum tide_session_type t)
{
	return (unsigned int)t < TIDE_SESSION_MAX ? session_names[t] : "biflow";
}

static int
fail(struct tide_job_error *err, const char *code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail(struct tide_job_error *err, const char *code, const char *field, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		snprintf(err->field, sizeof(err->field), "%s", field);
		va_start(ap, fmt);
		vsnprintf(err->why, sizeof(err->why), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* One member, present in the object: checked and stored. */
static int
read_field(const struct field *f, json_t *v, struct tide_job *job, struct tide_job_error *err)
{
	switch (f->kind) {
	case K_STRING: {
		const char *s = json_string_value(v);
		if (!s)
			return fail(err, "invalid_field", f->name, "must be a string");
		size_t len = json_string_length(v);
		if ((int64_t)len > f->max)
			return fail(err, "invalid_field", f->name, "must be at most %" PRId64 " bytes",
				f->max);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return fail(err, "invalid_field", f->name, "holds control characters");
		memcpy((char *)job + f->off, s, len + 1);
		return 0;
	}
	case K_APPS: {
		/* an array of names; the list grammar is tide_job_apps_parse's, for every program */
		if (!json_is_array(v) || json_array_size(v) > TIDE_JOB_APPS_NAMES_MAX)
			return fail(err, "invalid_field", f->name, "must be an array of at most %d "
				"application or service names", TIDE_JOB_APPS_NAMES_MAX);
		char joined[TIDE_JOB_APPS_MAX + TIDE_JOB_APPS_NAMES_MAX + 1];
		size_t len = 0;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			const char *s = json_string_value(e);
			if (!s || strlen(s) != json_string_length(e) || strchr(s, ','))
				return fail(err, "invalid_field", f->name, "must be an array of "
					"application or service names (strings without commas)");
			size_t n = strlen(s);
			if (n == 0)
				return fail(err, "invalid_field", f->name, "an empty name in the list");
			if (n > TIDE_JOB_APP_NAME_MAX)
				return fail(err, "invalid_field", f->name, "'%.40s...' is longer than %d "
					"bytes", s, TIDE_JOB_APP_NAME_MAX);
			if (len)
				joined[len++] = ',';
			memcpy(joined + len, s, n);
			len += n;
		}
		joined[len] = '\0';
		char why[sizeof(err->why)];
		if (tide_job_apps_parse(joined, (char *)job + f->off, TIDE_JOB_APPS_MAX + 1, why,
			    sizeof(why)) != 0)
			return fail(err, "invalid_field", f->name, "%s", why);
		return 0;
	}
	case K_UNDECIDED: {
		const char *s = json_string_value(v);
		if (s && strcmp(s, "keep") == 0)
			*(bool *)((char *)job + f->off) = true;
		else if (s && strcmp(s, "drop") == 0)
			*(bool *)((char *)job + f->off) = false;
		else
			return fail(err, "invalid_field", f->name, "must be keep or drop");
		return 0;
	}
	case K_BOOL:
		if (!json_is_boolean(v))
			return fail(err, "invalid_field", f->name, "must be true or false");
		*(bool *)((char *)job + f->off) = json_is_true(v);
		return 0;
	case K_SESSION: {
		const char *s = json_string_value(v);
		for (int t = 0; s && t < TIDE_SESSION_MAX; t++)
			if (strcmp(s, session_names[t]) == 0 && strlen(s) == json_string_length(v)) {
				job->session_type = (enum tide_session_type)t;
				return 0;
			}
		return fail(err, "invalid_field", f->name, "must be flow, biflow or host");
	}
	case K_INT:
	case K_SIZE:
	case K_DURATION: {
		json_int_t n;
		if (json_is_string(v) && f->kind != K_INT) {
			uint64_t u;
			const char *s = json_string_value(v);
			int r = strlen(s) != json_string_length(v) ? -1
				: f->kind == K_SIZE ? tide_parse_size(s, &u) : tide_parse_duration(s, &u);
			if (r < 0 || u > INT64_MAX)
				return fail(err, "invalid_field", f->name, "%s", f->kind == K_SIZE
					? "must be bytes or a size such as 512M, 10G, 1.5GiB"
					: "must be seconds or a duration such as 90, 30s, 5m, 1h30m, 2d");
			n = (json_int_t)u;
		} else if (json_is_integer(v)) {
			n = json_integer_value(v);
		} else {
			return fail(err, "invalid_field", f->name, "%s", f->kind == K_INT
				? "must be an integer" : f->kind == K_SIZE
				? "must be an integer (bytes) or a size string such as \"10G\""
				: "must be an integer (seconds) or a duration string such as \"1h\"");
		}
		if ((n == 0 && f->zero) || (n >= f->min && n <= f->max)) {
			tide_member_set(job, f->off, f->size, (uint64_t)n);
			return 0;
		}
		if (f->zero)
			return fail(err, "invalid_field", f->name, "must be 0 (%s) or %" PRId64 "-%"
				PRId64, f->zero, f->min, f->max);
		return fail(err, "invalid_field", f->name, "must be %" PRId64 "-%" PRId64, f->min,
			f->max);
	}
	}
	return fail(err, "invalid_field", f->name, "unknown kind");
}

int
tide_job_from_json(const json_t *obj, struct tide_job *job, struct tide_job_error *err)
{
	if (!json_is_object(obj))
		return fail(err, "invalid_body", "", "the job must be a JSON object");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
		if (!tide_job_is_field(key))
			return fail(err, "unknown_field", key, "is not a job parameter");
	tide_job_init(job);
	for (size_t i = 0; i < N_FIELDS; i++) {
		v = json_object_get(obj, fields[i].name);
		if (!v) {
			if (fields[i].required)
				return fail(err, "missing_field", fields[i].name, "is required");
			continue;
		}
		if (read_field(&fields[i], v, job, err))
			return -EINVAL;
	}
	/* what one member alone cannot say. export without classify is refused rather than
	 * turning classification on: that would add a flows file and its cost unasked */
	if (job->export[0]) {
		struct tide_export_target t;
		char why[sizeof(err->why)];
		if (tide_export_parse(job->export, &t, why, sizeof(why)) != 0)
			return fail(err, "invalid_field", "export", "%s", why);
		if (!job->classify)
			return fail(err, "invalid_field", "export", "needs classify: the exported "
				"records are the classified sessions'");
	}
	/* selection by application needs the sessions' applications; a host session is a
	 * host's whole traffic, not one application's */
	if (job->apps[0] && !job->classify)
		return fail(err, "invalid_field", "apps", "needs classify: sessions are selected "
			"by the application the classifiers find");
	if (job->apps[0] && job->session_type == TIDE_SESSION_HOST)
		return fail(err, "invalid_field", "apps", "needs flow or biflow sessions (a host "
			"session holds every application of a host)");
	return 0;
}

static bool
name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		ch == '-' || ch == '_' || ch == '.' || ch == '+' || ch == '/';
}

int
tide_job_apps_parse(const char *list, char *out, size_t out_size, char *why, size_t why_size)
{
	char names[TIDE_JOB_APPS_NAMES_MAX][TIDE_JOB_APP_NAME_MAX + 1];
	unsigned int n = 0;
	size_t used = 0;
	const char *p = list ? list : "";
	if (out_size)
		out[0] = '\0';
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *a = p, *b = p + len;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		size_t nl = (size_t)(b - a);
		if (nl == 0) {
			snprintf(why, why_size, "an empty name in the list (names are separated by "
				"single commas)");
			return -EINVAL;
		}
		if (nl > TIDE_JOB_APP_NAME_MAX) {
			snprintf(why, why_size, "'%.40s...' is longer than %d bytes", a,
				TIDE_JOB_APP_NAME_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < nl; i++)
			if (!name_char(a[i])) {
				snprintf(why, why_size, "'%.*s' is not an application or service name "
					"(letters, digits, '-', '_', '.', '+', '/')", (int)nl, a);
				return -EINVAL;
			}
		if (n == TIDE_JOB_APPS_NAMES_MAX) {
			snprintf(why, why_size, "at most %d names", TIDE_JOB_APPS_NAMES_MAX);
			return -EINVAL;
		}
		memcpy(names[n], a, nl);
		names[n][nl] = '\0';
		for (unsigned int k = 0; k < n; k++)
			if (strcasecmp(names[k], names[n]) == 0) {
				snprintf(why, why_size, "'%s' is named twice", names[n]);
				return -EINVAL;
			}
		if (used + nl + (n ? 1 : 0) + 1 > out_size) {
			snprintf(why, why_size, "the list is too long");
			return -EINVAL;
		}
		if (n)
			out[used++] = ',';
		memcpy(out + used, a, nl);
		used += nl;
		out[used] = '\0';
		n++;
		if (!end)
			break;
		p = end + 1;
		if (!*p) {
			snprintf(why, why_size, "an empty name in the list (names are separated by "
				"single commas)");
			return -EINVAL;
		}
	}
	return 0;
}

const char *
tide_job_apps_next(const char *list, char *name, size_t size)
{
	if (!list || !*list)
		return NULL;
	const char *end = strchr(list, ',');
	size_t len = end ? (size_t)(end - list) : strlen(list);
	snprintf(name, size, "%.*s", (int)len, list);
	return end ? end + 1 : list + len;
}

json_t *
tide_job_to_json(const struct tide_job *job)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < N_FIELDS; i++) {
		const struct field *f = &fields[i];
		json_t *v = NULL;
		switch (f->kind) {
		case K_STRING: v = json_string((const char *)job + f->off); break;
		case K_APPS: {
			char name[TIDE_JOB_APP_NAME_MAX + 1];
			v = json_array();
			for (const char *p = job->apps; v && (p = tide_job_apps_next(p, name,
				sizeof(name))) != NULL;)
				json_array_append_new(v, json_string(name));
			break;
		}
		case K_UNDECIDED:
			v = json_string(job->apps_keep_undecided ? "keep" : "drop");
			break;
		case K_BOOL: v = json_boolean(*(const bool *)((const char *)job + f->off)); break;
		case K_SESSION: v = json_string(tide_session_type_name(job->session_type)); break;
		case K_INT:
		case K_SIZE:
		case K_DURATION:
			v = json_integer((json_int_t)tide_member_get(job, f->off, f->size));
			break;
		}
		if (json_object_set_new(o, f->name, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}
