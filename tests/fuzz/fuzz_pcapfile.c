/* fuzz_pcapfile.c — libFuzzer target for the capture-file parsers: the offline reader
 * (dp_pcapfile), the pcapng structure checker and crash recovery (dp_pcapng).
 *
 * The input is the whole file. It goes into a memfd reopened through /proc/self/fd, so no disk
 * is touched per run; built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION the reader copies the
 * file to the heap instead of mapping it, so ASan sees any read past the end. Beyond "no crash"
 * it checks what callers rely on: every record lies inside the file, caplen <= wirelen and
 * <= 256 KiB, errors name the file, and a shard that recovery keeps passes dp_pcapng_check. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dp_pcapfile.h"
#include "dp_pcapng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int mem_fd = -1;
static char mem_path[64];
static char rec_dir[64]; /* scratch directory for recovery, on tmpfs when there is one */

static void
put_file(int fd, const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(fd, 0) < 0)
		abort();
	while (done < size) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
}

static void
cleanup(void)
{
	rmdir(rec_dir); /* empty between runs */
}

static void
init_once(void)
{
	mem_fd = memfd_create("fuzz_pcapfile", MFD_CLOEXEC);
	if (mem_fd < 0)
		abort();
	snprintf(mem_path, sizeof(mem_path), "/proc/self/fd/%d", mem_fd);
	snprintf(rec_dir, sizeof(rec_dir), "%s/fuzz_pcapfile.XXXXXX",
		access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(rec_dir) == NULL)
		abort();
	atexit(cleanup);
}

static void
read_all(const uint8_t *data, size_t size)
{
	char err[256];
	struct dp_pcap_rec rec;
	struct dp_pcapfile *f;
	uint64_t prev_end = 0;
	volatile uint8_t sink = 0;
	int rc;

	f = dp_pcapfile_open(mem_path, err, sizeof(err));
	if (f == NULL) {
		if (strncmp(err, mem_path, strlen(mem_path)) != 0)
			abort();
		return;
	}
	if (dp_pcapfile_size(f) != size)
		abort();
	while ((rc = dp_pcapfile_next(f, &rec, err, sizeof(err))) == 1) {
		if (rec.caplen > rec.wirelen || rec.caplen > 262144 || rec.offset >= size ||
			rec.offset < prev_end)
			abort();
		prev_end = rec.offset + 1;
		if (rec.caplen > 0) {
			/* The bytes must be in the file: compare them with the input. */
			const uint8_t *first = rec.data, *last = rec.data + rec.caplen - 1;

			sink ^= *first ^ *last;
			if (memmem(data + rec.offset, size - rec.offset, rec.data, rec.caplen) == NULL)
				abort();
		}
	}
	if (rc == -1 && strncmp(err, mem_path, strlen(mem_path)) != 0)
		abort();
	/* Errors are sticky, end of file stays end of file. */
	if (dp_pcapfile_next(f, &rec, err, sizeof(err)) != rc)
		abort();
	dp_pcapfile_close(f);
	(void)sink;
}

static void
recover(const uint8_t *data, size_t size)
{
	char part[128], final[128], err[256];
	unsigned int next_seq, discarded;
	int fd, r;

	snprintf(part, sizeof(part), "%s/000042.pcapng.part", rec_dir);
	snprintf(final, sizeof(final), "%s/000042.pcapng", rec_dir);
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		abort();
	put_file(fd, data, size);
	close(fd);
	r = dp_shard_dir_recover(rec_dir, &next_seq, &discarded);
	if (r < 0 || (unsigned int)r + discarded != 1 || access(part, F_OK) == 0)
		abort();
	if (r == 1) {
		if (next_seq != 43 || dp_pcapng_check(final, err, sizeof(err)) != 0)
			abort();
		unlink(final);
	} else if (next_seq != 0) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	if (mem_fd < 0)
		init_once();
	put_file(mem_fd, data, size);
	read_all(data, size);
	(void)dp_pcapng_check(mem_path, err, sizeof(err));
	/* Recovery costs a few syscalls: only for inputs that could be a shard. */
	if (size >= 4 && memcmp(data, "\x0a\x0d\x0d\x0a", 4) == 0)
		recover(data, size);
	return 0;
}
