/* cp_scheduler.h — runs capture jobs on drones' links, and post-processing scripts.
 *
 * A job has one row per link in job_links (its parallel captures, identical parameters). The
 * scheduler thread polls every CP_SCHED_POLL_MS:
 *   - pending jobs start, oldest first, when every link's drone is online and each link has a
 *     free job slot (its drone's job_slots for it, minus running captures and the slots older
 *     pending jobs wait for: the queue per link); otherwise the job's pending_reason says why
 *     (drone offline, all N job slots busy, …). A start message per link carries
 *     the job's filter, limits, snaplen, classification and, for anonymised jobs, the job's
 *     Crypto-PAn key (one key per job, so addresses match across links);
 *   - running jobs are stopped on every link when the sum of their bytes reaches max_size, when
 *     max_duration has passed, when a user stops or cancels them, or when one link fails;
 *   - a link whose drone has been offline longer than drone_grace fails ("drone lost"), as
 *     does one its drone no longer reports;
 *   - a job whose links have all ended gets its state (cancelled; failed if a link failed, with
 *     that link's reason; else processing when it has a script, else done), its summed counters,
 *     its manifest.json (cp_manifest.h: parameters, links, every uploaded file with the SHA-256
 *     the Hive computed; rewritten after post-processing with processed/ hashed) and its
 *     dataset size. A cancelled job is finalized too, once its links have ended.
 * State changes by the API are rows first; the scheduler acts on them, so a kill -9 at any
 * point leaves rows a restart continues from (drones reconnect and report their captures).
 * An update of a job's rows that fails (disk full, a locked or damaged database) is logged once
 * per statement with SQLite's message, and that job is left alone for 0.4 s, doubling to 10 s,
 * until its updates work again (logged too, with the number of failed attempts).
 *
 * max_scripts processor threads (default 2) run post-processing scripts in the sandbox
 * (cp_sandbox.h) side by side, each taking the oldest processing job no other one has, so one
 * user's long script does not hold up everyone's; more wait. Cancelling a processing job stops
 * its script, on whichever processor it runs, and no other. A script's end that cannot be
 * recorded is retried (with the back-off above) by the processor that ran it, never rerun. */
#ifndef CP_SCHEDULER_H
#define CP_SCHEDULER_H

struct cp_options;
struct cp_scheduler;

#define CP_SCHED_POLL_MS 200

struct cp_scheduler *cp_scheduler_start(const struct cp_options *o, const char *db_path);
void cp_scheduler_stop(struct cp_scheduler *s);

#endif
