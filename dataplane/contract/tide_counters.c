/* tide_counters.c — the registry's name tables and its JSON form (see tide_counters.h). */
#include <string.h>

#include "tide_counters.h"

const char *const tide_counter_names[TIDE_COUNTER_MAX] = {
#define _(sym, name, desc) name,
	TIDE_COUNTER_LIST(_)
#undef _
};
static const char *const counter_descs[TIDE_COUNTER_MAX] = {
#define _(sym, name, desc) desc,
	TIDE_COUNTER_LIST(_)
#undef _
};

const char *const tide_drop_names[TIDE_DROP_MAX] = {
#define _(sym, name, hint) name,
	TIDE_DROP_LIST(_)
#undef _
};
const char *const tide_drop_hints[TIDE_DROP_MAX] = {
#define _(sym, name, hint) hint,
	TIDE_DROP_LIST(_)
#undef _
};

const char *const tide_stop_names[TIDE_STOP_MAX] = {
#define _(sym, name, desc) name,
	TIDE_STOP_LIST(_)
#undef _
};
static const char *const stop_descs[TIDE_STOP_MAX] = {
#define _(sym, name, desc) desc,
	TIDE_STOP_LIST(_)
#undef _
};

const char *const tide_job_state_names[TIDE_JOB_STATES + 1] = {
#define _(sym, name, desc) name,
	TIDE_JOB_STATE_LIST(_)
#undef _
	NULL
};
static const char *const job_state_descs[TIDE_JOB_STATES] = {
#define _(sym, name, desc) desc,
	TIDE_JOB_STATE_LIST(_)
#undef _
};

const char *const tide_link_state_names[TIDE_LINK_STATES + 1] = {
#define _(sym, name, desc) name,
	TIDE_LINK_STATE_LIST(_)
#undef _
	NULL
};
static const char *const link_state_descs[TIDE_LINK_STATES] = {
#define _(sym, name, desc) desc,
	TIDE_LINK_STATE_LIST(_)
#undef _
};

int
tide_name_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && (n < 0 || i < n) && names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *
tide_drop_hint(const char *name)
{
	int i = tide_name_index(tide_drop_names, TIDE_DROP_MAX, name);
	return i < 0 ? NULL : tide_drop_hints[i];
}

/* [{"name": names[i], key: texts[i]}, ...] */
static json_t *
pairs(const char *const *names, const char *const *texts, int n, const char *key)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_pack("{s:s, s:s}", "name", names[i], key,
			texts[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

bool
tide_job_state_ended(const char *state)
{
	return state && (!strcmp(state, "done") || !strcmp(state, "partial") ||
		!strcmp(state, "failed") || !strcmp(state, "cancelled"));
}

json_t *
tide_counters_to_json(void)
{
	json_t *ended = json_array();
	for (int i = 0; i < TIDE_JOB_STATES; i++)
		if (tide_job_state_ended(tide_job_state_names[i]))
			json_array_append_new(ended, json_string(tide_job_state_names[i]));
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "job_states_ended", ended,
		"counters", pairs(tide_counter_names, counter_descs, TIDE_COUNTER_MAX,
			"description"),
		"drop_reasons", pairs(tide_drop_names, tide_drop_hints, TIDE_DROP_MAX, "hint"),
		"stop_reasons", pairs(tide_stop_names, stop_descs, TIDE_STOP_MAX, "description"),
		"job_states", pairs(tide_job_state_names, job_state_descs, TIDE_JOB_STATES,
			"description"),
		"link_states", pairs(tide_link_state_names, link_state_descs, TIDE_LINK_STATES,
			"description"));
}
