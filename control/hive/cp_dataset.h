/* cp_dataset.h — a job's dataset on disk (DATA_DIR/jobs/<id>/): its listing and its files, as
 * the dataset routes of cp_api_jobs.c serve them.
 *
 * What is in a dataset is decided by one set of rules, applied both by the walk that lists it
 * and by the opening of one file: regular files only, reached through directories only, never
 * through a symlink (openat with O_NOFOLLOW at every step, relative to directory descriptors),
 * no component starting with '.' (so no "..", no dot-files, no upload in progress), at most
 * CP_DATASET_DEPTH directories deep and paths shorter than CP_PARAM_MAX bytes. A download
 * opens exactly the requested path under those rules: it never walks the dataset, however many
 * files it holds.
 *
 * The listing is walked, sorted and serialised once and then kept, for ended jobs (done,
 * failed, cancelled: nothing writes their datasets any more, except a drone's late upload or a
 * hand), keyed on the job's state and ended_at and checked at every use against the inode and
 * mtime of every directory the walk entered: a file added, renamed or removed anywhere changes
 * its directory's mtime, so the next request walks again. Uploads and the manifest arrive by
 * rename, so a file never changes size under the same directory mtime; a directory modified
 * within CP_DATASET_SETTLE_MS of the walk is not trusted (file-system timestamps are coarse)
 * and its listing not kept. The cache holds at most CP_DATASET_CACHE_JOBS listings and
 * CP_DATASET_CACHE_BYTES bytes, least recently used out first. */
#ifndef CP_DATASET_H
#define CP_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define CP_DATASET_DEPTH 8            /* directories below the top: shards/<drone>/<link>/ is 3 */
#define CP_DATASET_FILES 100000       /* files (and directories) a listing holds */
#define CP_DATASET_SETTLE_MS 2000
#define CP_DATASET_CACHE_JOBS 32
#define CP_DATASET_CACHE_BYTES (64u << 20)

/* One job's listing: immutable, shared by reference. */
struct cp_listing;

/* The job's dataset directory, opened O_NOFOLLOW: a descriptor, or -ENOENT when it has none
 * (yet), or -errno. */
int cp_dataset_open(const char *data_dir, int64_t id);
/* Opens rel under the dataset descriptor by the rules above, its stat in *sb: a descriptor of
 * a regular file, or -ENOENT for anything the listing would not show (-errno on other
 * failures). A FIFO or device is never opened for reading, so it cannot block. */
int cp_dataset_open_file(int dataset_fd, const char *rel, struct stat *sb);

/* The listing of job id, whose row says state and ended_at (ms, 0 = none): from the cache when
 * still valid, else walked. NULL with *err (-ENOENT: no dataset). Release with
 * cp_listing_put. */
struct cp_listing *cp_dataset_listing(const char *data_dir, int64_t id, const char *state,
	int64_t ended_at, int *err);
void cp_listing_put(struct cp_listing *l);
/* The response body {"items": [{"path", "size", "sha256"}, ...]} (sorted by path; sha256 from
 * manifest.json, null when it lists none), serialised once. */
const char *cp_listing_body(const struct cp_listing *l, size_t *len);
size_t cp_listing_count(const struct cp_listing *l);
const char *cp_listing_path(const struct cp_listing *l, size_t i);
/* Drops job id's cached listing (the job is deleted). */
void cp_dataset_forget(int64_t id);

#endif
