/* tide_job.h — a capture job as a drone runs it: the one definition of a job's capture
 * parameters, their limits and their validation, shared by the Hive's REST edge
 * (control/hive/cp_api_jobs.c), its start message to drones (control/hive/cp_scheduler.c), the drone and
 * tidectl.
 *
 * Why here: the same parameters used to exist in five forms (REST JSON, SQL columns, the start
 * message, argv strings, the dataplane's options), each with its own checks. A job now travels
 * as the JSON of tide_job_to_json() and is read back by tide_job_from_json(), which refuses
 * what a drone cannot run and names the field and the reason, so the REST edge and the drone
 * refuse a bad job with the same words.
 *
 * What is not here: the Hive's own fields (name, description, group, links, script,
 * script_timeout) stay in cp_api_jobs.c's field table; a POST body must pass both. The
 * anonymisation key is not a parameter: the Hive makes one per job and sends it beside. */
#ifndef TIDE_JOB_H
#define TIDE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define TIDE_JOB_FILTER_MAX 4096                  /* bytes of a tcpdump expression */
#define TIDE_JOB_MAX_SIZE_MIN (1ll << 20)         /* 1 MiB */
#define TIDE_JOB_MAX_SIZE_MAX (4ll << 40)         /* 4 TiB */
#define TIDE_JOB_MAX_DURATION_MAX (7 * 86400)     /* a week, in seconds */
#define TIDE_JOB_MAX_PACKETS_MAX (1ll << 48)      /* far beyond a week at line rate */
#define TIDE_JOB_SNAPLEN_MIN 64                   /* room for the headers classifiers read */
#define TIDE_JOB_SNAPLEN_MAX 262144               /* pcap's largest; jumbo frames fit */
#define TIDE_JOB_LOOKBACK_MAX 3600                /* seconds; a drone's buffer holds less */
#define TIDE_JOB_SHARD_SIZE_MIN (1ll << 20)       /* 1 MiB */
#define TIDE_JOB_SHARD_SIZE_MAX (64ll << 30)      /* 64 GiB */
#define TIDE_JOB_SHARD_SIZE_DEFAULT (256ll << 20) /* when 0 */
#define TIDE_JOB_SHARD_TIME_MAX 86400             /* seconds */
#define TIDE_JOB_EXPORT_MAX 300                   /* bytes of a destination: scheme, a
                                                   * 255-byte host in brackets, :port */
#define TIDE_JOB_APPS_NAMES_MAX 16                /* applications or services in apps */
#define TIDE_JOB_APP_NAME_MAX 31                  /* bytes of one name (a service's limit) */
#define TIDE_JOB_APPS_MAX (TIDE_JOB_APPS_NAMES_MAX * (TIDE_JOB_APP_NAME_MAX + 1))
#define TIDE_JOB_APPS_PACKETS_DEFAULT 32          /* packets a session may wait, per session */
#define TIDE_JOB_APPS_PACKETS_MAX 255
#define TIDE_JOB_APPS_WAIT_DEFAULT 5              /* seconds a session may wait */
#define TIDE_JOB_APPS_WAIT_MAX 300

/* How packets are grouped into sessions for classification and flow records. */
#define TIDE_SESSION_LIST(_)                                                    \
	_(FLOW, "flow")                                                         \
	_(BIFLOW, "biflow")                                                     \
	_(HOST, "host")

enum tide_session_type {
#define _(sym, name) TIDE_SESSION_##sym,
	TIDE_SESSION_LIST(_)
#undef _
	TIDE_SESSION_MAX
};

struct tide_job {
	char filter[TIDE_JOB_FILTER_MAX + 1]; /* tcpdump syntax; "" keeps every packet */
	uint32_t snaplen;                      /* 0: whole packets */
	bool anonymise;                        /* Crypto-PAn with the job's key */
	bool classify;                         /* sessions and their applications */
	enum tide_session_type session_type;
	int64_t max_size;                      /* bytes of shards, per link */
	int64_t max_duration;                  /* seconds from the capture's start */
	int64_t max_packets;                   /* packets written; 0: unlimited */
	uint32_t lookback_s;                   /* start up to this far back; 0: none */
	int64_t shard_size;                    /* bytes per shard; 0: 256 MiB */
	int64_t shard_time;                    /* seconds per shard; 0: no time limit */
	char export[TIDE_JOB_EXPORT_MAX + 1];  /* flow records also go to this collector as
	                                        * they end (tide_export.h); "" none. Needs
	                                        * classify: the records are the sessions' */
	/* Selection by application (dataplane/dp_select.h): keep only the sessions whose
	 * application or service is one of these ("QUIC,YouTube" here; a JSON array of names in
	 * the job's JSON); "" keeps every session. Each session's first packets wait until it is
	 * identified, at most apps_packets packets and apps_wait seconds; a session still
	 * undecided then is kept or dropped as apps_keep_undecided says ("apps_undecided":
	 * "keep" or "drop", the default). Needs classify and flow or biflow sessions. */
	char apps[TIDE_JOB_APPS_MAX + 1];
	bool apps_keep_undecided;
	uint32_t apps_packets;                 /* 1-255; TIDE_JOB_APPS_PACKETS_DEFAULT */
	uint32_t apps_wait;                    /* seconds, 1-300; TIDE_JOB_APPS_WAIT_DEFAULT */
};

/* Why tide_job_from_json refused: code is "invalid_body", "unknown_field", "missing_field" or
 * "invalid_field" (the REST API's codes), field the member concerned ("" for the body), why a
 * sentence without the field's name ("must be 0 (whole packets) or 64-262144"). */
struct tide_job_error {
	const char *code;
	char field[32];
	char why[384];                         /* room for tide_export_parse's sentence */
};

/* The defaults of optional members: no filter, whole packets, biflow, no selection by
 * application (with its bounds at their defaults), nothing else. */
void tide_job_init(struct tide_job *job);

/* Is name one of the members tide_job_from_json reads? */
bool tide_job_is_field(const char *name);

/* Reads a job from obj: every member must be known, of its type and within its bounds;
 * max_size and max_duration are required, the others default (tide_job_init). export must
 * parse (tide_export_parse, whose sentence is the reason) and is refused without classify.
 * 0, or -EINVAL with err filled in (err may be NULL). job is only valid on 0. */
int tide_job_from_json(const json_t *obj, struct tide_job *job, struct tide_job_error *err);

/* Every member, defaults included. New reference, NULL without memory. */
json_t *tide_job_to_json(const struct tide_job *job);

const char *tide_session_type_name(enum tide_session_type t);

/* The one grammar of an application list, for every command line (tide-dataplane --apps,
 * tidectl --apps) and the JSON array alike: names separated by commas (blanks around them
 * ignored), each 1-31 letters, digits or '-', '_', '.', '+', '/', at most 16, no name twice
 * (case-insensitively). Writes the canonical form ("QUIC,YouTube") to out. 0, or -EINVAL with
 * a sentence in why ("'Q UIC' is not an application name: ..."). Whether a name is known is
 * the classifiers' tables' to say (tide-dataplane --check-filter --apps). */
int tide_job_apps_parse(const char *list, char *out, size_t out_size, char *why,
	size_t why_size);

/* The next name of a canonical list: copies it to name (size >= TIDE_JOB_APP_NAME_MAX + 1)
 * and returns the rest, or NULL when the list is exhausted. */
const char *tide_job_apps_next(const char *list, char *name, size_t size);

#endif
