/* tide_fs.h — file-system helpers every tide program shares: directories made with their
 * parents, whole writes, and the SHA-256 of a file. POSIX error convention: 0, or -1 with errno
 * set (as the system calls they wrap). */
#ifndef TIDE_FS_H
#define TIDE_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p: makes `path` and its missing parents with `mode`; an existing directory is fine. */
int tide_mkdir_p(const char *path, mode_t mode);

/* Writes all `len` bytes (retrying short writes and EINTR). */
int tide_write_all(int fd, const void *buf, size_t len);

/* SHA-256, as 64 lower-case hex digits and a NUL, of what `fd` reads from its offset to the
 * end; the byte count in *size when size is not NULL. The descriptor stays open. */
int tide_sha256_fd(int fd, char hex[65], uint64_t *size);

/* The same for the whole file at `path` (opened O_RDONLY | O_CLOEXEC | extra_flags, e.g.
 * O_NOFOLLOW for a file that must not be a symlink). */
int tide_sha256_file(const char *path, int extra_flags, char hex[65], uint64_t *size);

/* Lower-case hex of a SHA-256 digest (65 bytes with the NUL). */
void tide_sha256_hex(const uint8_t sha[32], char hex[65]);

#endif
