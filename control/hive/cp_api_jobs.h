/* cp_api_jobs.h — what the jobs routes share between their files: a job's scope and its JSON
 * (cp_api_jobs_view.c), used by the routes of cp_api_jobs.c. */
#ifndef CP_API_JOBS_H
#define CP_API_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct cp_req;

struct cp_job_meta {
	int64_t owner_id;
	char state[16];
	int64_t ended_at; /* ms, 0 = not ended; with state, what a cached listing is valid for */
};

/* May the caller see (and, with jobs.write, manage) a job of this owner shared with group
 * (0 = not shared)? */
bool cp_jobs_visible(const struct cp_req *r, int64_t owner_id, int64_t group_id);

/* The job's representation: its row, capture parameters (tide_job_to_json), links with their
 * state, reason and counters, the summed counters and progress. NULL with *err (-ENOENT when
 * missing or out of the caller's scope). meta may be NULL. */
json_t *cp_jobs_json(struct cp_req *r, int64_t id, struct cp_job_meta *meta, int *err);

/* The job in the path, in scope: 0, or answers 404/5xx and returns -1. out may be NULL. */
int cp_jobs_load(struct cp_req *r, int64_t *id, struct cp_job_meta *meta, json_t **out);

#endif
