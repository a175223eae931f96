/* dp_writeback.c — the write and hash threads behind dp_writeback.h.
 *
 * Why threads: SHA-256 was two thirds of the writer's CPU at 64 B (with SHA-NI), and a
 * synchronous O_DIRECT write left the disk idle while the writer filled its next buffer. Each
 * helper is a stage: a bounded FIFO guarded by one mutex (a request per 1 MiB buffer, so the
 * lock is taken a few thousand times a second at most), a condition for "work queued" and one
 * shared condition for "a buffer came back". Started on first use, they live as long as the
 * process; their signals stay blocked (the threads that handle signals keep them). */
#include "dp_writeback.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#define STAGE_QUEUE 64u

struct wb_req {
	int fd;
	uint64_t off;
	EVP_MD_CTX *md;
	const void *data;
	size_t len;
	atomic_int *pending;
	struct dp_writeback_status *st;
};

struct stage {
	void (*work)(const struct wb_req *r);
	const char *name;
	pthread_cond_t queued;
	struct wb_req q[STAGE_QUEUE];
	unsigned int head, count;
	bool running;
};

static pthread_mutex_t wb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wb_done = PTHREAD_COND_INITIALIZER; /* a request finished */
static pthread_once_t wb_once = PTHREAD_ONCE_INIT;

static void
do_write(const struct wb_req *r)
{
	const uint8_t *p = r->data;
	size_t n = r->len;
	uint64_t off = r->off;

	if (atomic_load_explicit(&r->st->werr, memory_order_relaxed) != 0)
		return; /* an earlier chunk failed: no hole in the file */
	while (n > 0) {
		ssize_t k = pwrite(r->fd, p, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			atomic_store_explicit(&r->st->werr, k < 0 ? -errno : -EIO,
				memory_order_relaxed);
			return;
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
}

static void
do_hash(const struct wb_req *r)
{
	if (EVP_DigestUpdate(r->md, r->data, r->len) != 1)
		atomic_store_explicit(&r->st->herr, -ENOMEM, memory_order_relaxed);
}

static struct stage stages[2] = {
	{ .work = do_write, .name = "tide-shardwrite", .queued = PTHREAD_COND_INITIALIZER },
	{ .work = do_hash, .name = "tide-sha256", .queued = PTHREAD_COND_INITIALIZER },
};

static void
finish(const struct wb_req *r)
{
	atomic_fetch_sub_explicit(r->pending, 1, memory_order_release);
}

static void *
stage_main(void *arg)
{
	struct stage *s = arg;

	pthread_mutex_lock(&wb_lock);
	for (;;) {
		struct wb_req r;

		while (s->count == 0)
			pthread_cond_wait(&s->queued, &wb_lock);
		r = s->q[s->head];
		pthread_mutex_unlock(&wb_lock);
		s->work(&r);
		finish(&r);
		pthread_mutex_lock(&wb_lock);
		s->head = (s->head + 1) % STAGE_QUEUE;
		s->count--;
		pthread_cond_broadcast(&wb_done);
	}
	return NULL;
}

static void
start_stages(void)
{
	pthread_attr_t attr;
	sigset_t all, old;

	if (pthread_attr_init(&attr) != 0)
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned int i = 0; i < 2; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, stage_main, &stages[i]) == 0) {
			pthread_setname_np(t, stages[i].name);
			stages[i].running = true;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

void
dp_writeback_submit(int fd, uint64_t off, EVP_MD_CTX *md, const void *data, size_t len,
	atomic_int *pending, struct dp_writeback_status *st)
{
	struct wb_req r = { .fd = fd, .off = off, .md = md, .data = data, .len = len,
		.pending = pending, .st = st };

	atomic_store_explicit(pending, 2, memory_order_relaxed);
	pthread_once(&wb_once, start_stages);
	for (unsigned int i = 0; i < 2; i++) {
		struct stage *s = &stages[i];

		if (!s->running) {
			s->work(&r);
			finish(&r);
			continue;
		}
		pthread_mutex_lock(&wb_lock);
		while (s->count == STAGE_QUEUE)
			pthread_cond_wait(&wb_done, &wb_lock);
		s->q[(s->head + s->count) % STAGE_QUEUE] = r;
		s->count++;
		pthread_cond_signal(&s->queued);
		pthread_mutex_unlock(&wb_lock);
	}
}

void
dp_writeback_wait(atomic_int *pending)
{
	if (atomic_load_explicit(pending, memory_order_acquire) == 0)
		return;
	pthread_mutex_lock(&wb_lock);
	while (atomic_load_explicit(pending, memory_order_acquire) != 0)
		pthread_cond_wait(&wb_done, &wb_lock);
	pthread_mutex_unlock(&wb_lock);
}
