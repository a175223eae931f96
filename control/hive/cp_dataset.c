/* cp_dataset.c — dataset listings (walked once, then kept while the dataset cannot change) and
 * the opening of one dataset file by its path; the rules and the cache are described in
 * cp_dataset.h.
 *
 * Cost: a cached listing costs one fstatat per directory of the dataset and a copy of its body
 * to the socket; a download costs one openat per path component. Only a changed or uncached
 * dataset is walked (a readdir and an fstatat per entry, then a sort), at most
 * CP_DATASET_FILES files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cp_dataset.h"
#include "cp_drone_local.h"
#include "cp_http.h"
#include "tide_log.h"
#include "tide_counters.h"
#include "tide_layout.h"

/* A directory the walk entered, as it was then. */
struct dir_stamp {
	char *rel; /* "" for the dataset itself, else "a/b" */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
};

struct cp_listing {
	int refs;               /* under cache.mu */
	int64_t id, ended_at;
	char state[16];
	struct dir_stamp *dirs;
	size_t n_dirs;
	char **paths;           /* sorted, as in the body */
	size_t n_paths;
	char *body;
	size_t body_len;
	size_t bytes;           /* held in memory, for the cache's bound */
	uint64_t used;          /* last use, for least-recently-used eviction */
};

static struct {
	pthread_mutex_t mu;
	struct cp_listing *slot[CP_DATASET_CACHE_JOBS];
	size_t bytes;
	uint64_t tick;
} cache = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* ---- opening ------------------------------------------------------------------------------ */

int
cp_dataset_open(const char *data_dir, int64_t id)
{
	char path[PATH_MAX];
	if (cp_drone_job_path(data_dir, id, "", path, sizeof(path)))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
cp_dataset_open_file(int dataset_fd, const char *rel, struct stat *sb)
{
	char buf[CP_PARAM_MAX];
	size_t len = strlen(rel);
	if (len == 0 || len >= sizeof(buf)) /* the walk lists nothing that long */
		return -ENOENT;
	memcpy(buf, rel, len + 1);
	int fd = fcntl(dataset_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	char *c = buf;
	for (int depth = 0;; depth++) {
		char *slash = strchr(c, '/');
		if (slash)
			*slash = '\0';
		/* an empty, dot or too deep component is nothing the walk would list */
		bool last = !slash;
		if (!c[0] || c[0] == '.' || depth > CP_DATASET_DEPTH ||
			(last && (fstatat(fd, c, sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb->st_mode)))) {
			close(fd);
			return -ENOENT;
		}
		/* O_NONBLOCK: should a FIFO take the file's place meanwhile, opening it cannot hang */
		int next = openat(fd, c, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
			(last ? O_NONBLOCK | O_NOCTTY : O_DIRECTORY));
		int err = errno;
		close(fd);
		if (next < 0)
			return err == ENOENT || err == ELOOP || err == ENOTDIR ? -ENOENT : -err;
		fd = next;
		if (last)
			break;
		c = slash + 1;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* ---- walking ------------------------------------------------------------------------------ */

struct walk {
	json_t *files; /* {"path", "size"} */
	struct dir_stamp *dirs;
	size_t n_dirs, cap_dirs;
};

static int
stamp(struct walk *w, int fd, const char *rel)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0)
		return -errno;
	if (w->n_dirs == w->cap_dirs) {
		size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 16;
		struct dir_stamp *d = realloc(w->dirs, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		w->dirs = d;
		w->cap_dirs = cap;
	}
	char *copy = strdup(rel);
	if (!copy)
		return -ENOMEM;
	w->dirs[w->n_dirs++] = (struct dir_stamp){ copy, sb.st_dev, sb.st_ino, sb.st_mtim };
	return 0;
}

/* Appends every regular file under fd (consumed) to w; prefix is fd's path relative to the
 * dataset ("" at the top, else ending in '/'). Symlinks, devices and dot-names are skipped. */
static int
walk(int fd, const char *prefix, int depth, struct walk *w)
{
	size_t plen = strlen(prefix);
	char here[CP_PARAM_MAX];
	snprintf(here, sizeof(here), "%.*s", (int)(plen ? plen - 1 : 0), prefix);
	int rc = stamp(w, fd, here);
	DIR *dir = rc ? NULL : fdopendir(fd);
	if (!dir) {
		rc = rc ? rc : -errno;
		close(fd);
		return rc;
	}
	struct dirent *e;
	/* a listing that silently missed files would be kept as if whole: every failure but a
	 * file removed meanwhile fails the walk instead */
	for (;;) {
		errno = 0;
		if (rc || !(e = readdir(dir)))
			break;
		if (e->d_name[0] == '.')
			continue;
		char rel[PATH_MAX];
		if ((size_t)snprintf(rel, sizeof(rel), "%s%s", prefix, e->d_name) >= CP_PARAM_MAX)
			continue; /* could not be requested anyway */
		struct stat sb;
		if (fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT) {
				rc = -errno;
				tide_warn("jobs", "walking a dataset: %s%s: %s", prefix, e->d_name,
					strerror(errno));
			}
			continue;
		}
		if (S_ISREG(sb.st_mode)) {
			if (json_array_size(w->files) >= CP_DATASET_FILES)
				break;
			json_array_append_new(w->files, json_pack("{s:s, s:I}", "path", rel, "size",
				(json_int_t)sb.st_size));
		} else if (S_ISDIR(sb.st_mode) && depth < CP_DATASET_DEPTH &&
			w->n_dirs < CP_DATASET_FILES) {
			int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue;
			strcat(rel, "/");
			rc = walk(sub, rel, depth + 1, w);
		}
	}
	if (rc == 0 && !e && errno != 0) { /* readdir failed rather than ended */
		rc = -errno;
		tide_warn("jobs", "walking a dataset: reading '%s': %s", prefix, strerror(errno));
	}
	closedir(dir);
	return rc;
}

/* Every {"file": ..., "sha256": ...} object anywhere in the manifest. */
static void
manifest_hashes(json_t *node, json_t *map)
{
	if (json_is_object(node)) {
		const char *file = json_string_value(json_object_get(node, "file"));
		json_t *sha = json_object_get(node, "sha256");
		if (file && json_is_string(sha))
			json_object_set(map, file, sha);
		const char *k;
		json_t *v;
		json_object_foreach(node, k, v)
			manifest_hashes(v, map);
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v)
			manifest_hashes(v, map);
	}
}

static json_t *
read_manifest_hashes(int dfd)
{
	json_t *hashes = json_object();
	int mfd = openat(dfd, TIDE_LAYOUT_MANIFEST, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	FILE *f = mfd >= 0 ? fdopen(mfd, "r") : NULL;
	json_t *m = f ? json_loadf(f, 0, NULL) : NULL;
	manifest_hashes(m, hashes);
	json_decref(m);
	if (f)
		fclose(f);
	else if (mfd >= 0)
		close(mfd);
	return hashes;
}

static int
compare_paths(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "path")),
		json_string_value(json_object_get(*(json_t *const *)b, "path")));
}

static void
listing_free(struct cp_listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_dirs; i++)
		free(l->dirs[i].rel);
	for (size_t i = 0; i < l->n_paths; i++)
		free(l->paths[i]);
	free(l->dirs);
	free(l->paths);
	free(l->body);
	free(l);
}

/* Walks the dataset at dfd into a new listing (refs = 1). NULL with *err. */
static struct cp_listing *
build(int dfd, int64_t id, const char *state, int64_t ended_at, int *err)
{
	struct cp_listing *l = calloc(1, sizeof(*l));
	struct walk w = { .files = json_array() };
	int top = l ? fcntl(dfd, F_DUPFD_CLOEXEC, 0) : -1;
	*err = !l ? -ENOMEM : top < 0 ? -errno : walk(top, "", 0, &w);
	json_t *hashes = *err ? NULL : read_manifest_hashes(dfd);
	size_t n = json_array_size(w.files);
	json_t **v = n && !*err ? malloc(n * sizeof(*v)) : NULL;
	json_t *items = json_array();
	if (l) {
		l->dirs = w.dirs;
		l->n_dirs = w.n_dirs;
		w.dirs = NULL;
		l->paths = n && !*err ? calloc(n, sizeof(char *)) : NULL;
	}
	if (!*err && n && (!v || !l->paths))
		*err = -ENOMEM;
	for (size_t i = 0; !*err && i < n; i++)
		v[i] = json_array_get(w.files, i);
	if (!*err && n)
		qsort(v, n, sizeof(*v), compare_paths);
	for (size_t i = 0; !*err && i < n; i++) {
		const char *path = json_string_value(json_object_get(v[i], "path"));
		json_t *sha = json_object_get(hashes, path);
		json_object_set(v[i], "sha256", sha ? sha : json_null());
		json_array_append(items, v[i]);
		if (!(l->paths[l->n_paths] = strdup(path)))
			*err = -ENOMEM;
		else
			l->bytes += strlen(path) + 1 + sizeof(char *);
		l->n_paths++;
	}
	json_t *doc = json_object();
	json_object_set_new(doc, "items", items); /* the same text cp_reply would send */
	if (!*err && !(l->body = json_dumps(doc, JSON_COMPACT)))
		*err = -ENOMEM;
	free(v);
	json_decref(doc);
	json_decref(hashes);
	json_decref(w.files);
	for (size_t i = 0; i < w.n_dirs && w.dirs; i++)
		free(w.dirs[i].rel);
	free(w.dirs);
	if (*err) {
		listing_free(l);
		return NULL;
	}
	l->refs = 1;
	l->id = id;
	l->ended_at = ended_at;
	snprintf(l->state, sizeof(l->state), "%s", state);
	l->body_len = strlen(l->body);
	l->bytes += sizeof(*l) + l->body_len + l->n_dirs * (sizeof(*l->dirs) + 16);
	return l;
}

/* ---- the cache ---------------------------------------------------------------------------- */

static bool
ended(const char *state)
{
	return tide_job_state_ended(state);
}

static int64_t
ms_of(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* No directory changed within CP_DATASET_SETTLE_MS before the walk began: a change after it
 * is sure to show as a different mtime, however coarse the file system's clock. */
static bool
settled(const struct cp_listing *l, int64_t walk_started)
{
	for (size_t i = 0; i < l->n_dirs; i++)
		if (ms_of(l->dirs[i].mtime) > walk_started - CP_DATASET_SETTLE_MS)
			return false;
	return true;
}

/* Every directory the walk entered is still the same one, unchanged. */
static bool
still_valid(const struct cp_listing *l, int dfd)
{
	for (size_t i = 0; i < l->n_dirs; i++) {
		const struct dir_stamp *d = &l->dirs[i];
		struct stat sb;
		int rc = d->rel[0] ? fstatat(dfd, d->rel, &sb, AT_SYMLINK_NOFOLLOW) : fstat(dfd, &sb);
		if (rc != 0 || !S_ISDIR(sb.st_mode) || sb.st_dev != d->dev || sb.st_ino != d->ino ||
			sb.st_mtim.tv_sec != d->mtime.tv_sec || sb.st_mtim.tv_nsec != d->mtime.tv_nsec)
			return false;
	}
	return true;
}

/* Under cache.mu: takes slot i out of the cache; the listing, when its last reference, is
 * returned for the caller to free outside the lock. */
static struct cp_listing *
evict(int i)
{
	struct cp_listing *l = cache.slot[i];
	cache.slot[i] = NULL;
	cache.bytes -= l->bytes;
	return --l->refs == 0 ? l : NULL;
}

/* The cached listing of job id when it was made for this state and ended_at (a reference). */
static struct cp_listing *
cache_get(int64_t id, const char *state, int64_t ended_at)
{
	struct cp_listing *l = NULL, *gone = NULL;
	pthread_mutex_lock(&cache.mu);
	for (int i = 0; i < CP_DATASET_CACHE_JOBS; i++) {
		struct cp_listing *c = cache.slot[i];
		if (!c || c->id != id)
			continue;
		if (strcmp(c->state, state) || c->ended_at != ended_at) {
			gone = evict(i);
		} else {
			l = c;
			l->refs++;
			l->used = ++cache.tick;
		}
		break;
	}
	pthread_mutex_unlock(&cache.mu);
	listing_free(gone);
	return l;
}

/* Drops l from the cache if it is still there (it went stale). */
static void
cache_drop(struct cp_listing *l)
{
	struct cp_listing *gone = NULL;
	pthread_mutex_lock(&cache.mu);
	for (int i = 0; i < CP_DATASET_CACHE_JOBS; i++)
		if (cache.slot[i] == l)
			gone = evict(i);
	pthread_mutex_unlock(&cache.mu);
	listing_free(gone);
}

/* Keeps l (one more reference), making room by least recent use. */
static void
cache_put(struct cp_listing *l)
{
	struct cp_listing *gone[CP_DATASET_CACHE_JOBS] = { NULL };
	if (l->bytes > CP_DATASET_CACHE_BYTES)
		return;
	pthread_mutex_lock(&cache.mu);
	for (int i = 0; i < CP_DATASET_CACHE_JOBS; i++)
		if (cache.slot[i] && cache.slot[i]->id == l->id)
			gone[i] = evict(i);
	int free_slot = -1;
	for (;;) {
		int oldest = -1;
		free_slot = -1;
		for (int i = 0; i < CP_DATASET_CACHE_JOBS; i++) {
			if (!cache.slot[i])
				free_slot = free_slot < 0 ? i : free_slot;
			else if (oldest < 0 || cache.slot[i]->used < cache.slot[oldest]->used)
				oldest = i;
		}
		if (free_slot >= 0 && cache.bytes + l->bytes <= CP_DATASET_CACHE_BYTES)
			break;
		gone[oldest] = evict(oldest); /* oldest exists: the cache is full or too big */
	}
	l->refs++;
	l->used = ++cache.tick;
	cache.slot[free_slot] = l;
	cache.bytes += l->bytes;
	pthread_mutex_unlock(&cache.mu);
	for (int i = 0; i < CP_DATASET_CACHE_JOBS; i++)
		listing_free(gone[i]);
}

void
cp_dataset_forget(int64_t id)
{
	struct cp_listing *gone = NULL;
	pthread_mutex_lock(&cache.mu);
	for (int i = 0; i < CP_DATASET_CACHE_JOBS; i++)
		if (cache.slot[i] && cache.slot[i]->id == id)
			gone = evict(i);
	pthread_mutex_unlock(&cache.mu);
	listing_free(gone);
}

struct cp_listing *
cp_dataset_listing(const char *data_dir, int64_t id, const char *state, int64_t ended_at,
	int *err)
{
	int dfd = cp_dataset_open(data_dir, id);
	if (dfd < 0) {
		*err = dfd;
		return NULL;
	}
	bool keep = ended(state);
	struct cp_listing *l = keep ? cache_get(id, state, ended_at) : NULL;
	if (l && still_valid(l, dfd)) {
		close(dfd);
		return l;
	}
	if (l) {
		cache_drop(l);
		cp_listing_put(l);
	}
	int64_t started = tide_wall_ms();
	l = build(dfd, id, state, ended_at, err);
	close(dfd);
	if (l && keep && settled(l, started))
		cache_put(l);
	return l;
}

void
cp_listing_put(struct cp_listing *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&cache.mu);
	bool last = --l->refs == 0;
	pthread_mutex_unlock(&cache.mu);
	if (last)
		listing_free(l);
}

const char *
cp_listing_body(const struct cp_listing *l, size_t *len)
{
	*len = l->body_len;
	return l->body;
}

size_t
cp_listing_count(const struct cp_listing *l)
{
	return l->n_paths;
}

const char *
cp_listing_path(const struct cp_listing *l, size_t i)
{
	return i < l->n_paths ? l->paths[i] : NULL;
}
