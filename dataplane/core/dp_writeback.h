/* dp_writeback.h — the shard writer's two helper threads: one writes full buffers to their
 * files, one folds them into their shard's SHA-256.
 *
 * The writer thread only builds blocks. A full buffer is handed to both helpers at once and
 * comes back (its `pending` count reaches 0) when it is on its file and in its digest, while the
 * writer fills its next buffer: the disk always has a write in flight (as `dd` has, without the
 * gap between two of dd's writes) and SHA-256 costs the writer's core nothing. Each helper
 * serves requests in submission order, so a shard's chunks reach its file and its digest in
 * order. After a failed write every later write of the same writer is skipped (its `werr` is
 * set), so the file never has a hole. When a helper thread cannot be started, its work is done
 * inline by dp_writeback_submit: same bytes, same digest, only the cost moves back. No DPDK
 * dependency. */
#ifndef DP_WRITEBACK_H
#define DP_WRITEBACK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* What the helpers report back to one shard writer. */
struct dp_writeback_status {
	atomic_int werr; /* first failed write, as -errno (0: none) */
	atomic_int herr; /* a failed digest update, -ENOMEM (0: none) */
};

/* Write `len` bytes at `data` to `fd` at offset `off` (unless st->werr is already set) and
 * EVP_DigestUpdate(md, ...) them. *pending is 2 until both are done; `data` and `md` must stay
 * untouched until dp_writeback_wait(pending) returns. */
void dp_writeback_submit(int fd, uint64_t off, EVP_MD_CTX *md, const void *data, size_t len,
	atomic_int *pending, struct dp_writeback_status *st);

/* Block until *pending is 0 (returns at once when it already is). */
void dp_writeback_wait(atomic_int *pending);

#endif
