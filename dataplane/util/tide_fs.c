/* tide_fs.c — the helpers behind tide_fs.h (written once here; the dataplane, the drone, the
 * Hive and tidectl each had their own copies). */
#include "tide_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

int
tide_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = len == 0 ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (char *s = tmp + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
tide_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tide_sha256_fd(int fd, char hex[65], uint64_t *size)
{
	/* on the heap, not in thread-local storage: glibc carves static TLS out of every thread's
	 * stack, and civetweb's worker stacks are 100 KiB */
	enum { BUF = 1 << 16 };
	uint8_t *buf = malloc(BUF);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t sha[32];
	uint64_t total = 0;
	int e = 0;

	if (buf == NULL || md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		e = ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			e = ENOMEM;
			goto out;
		}
		total += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(md, sha, NULL) != 1) {
		e = ENOMEM;
		goto out;
	}
	tide_sha256_hex(sha, hex);
	if (size != NULL)
		*size = total;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

int
tide_sha256_file(const char *path, int extra_flags, char hex[65], uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | extra_flags);
	int r, e;

	if (fd < 0)
		return -1;
	r = tide_sha256_fd(fd, hex, size);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

void
tide_sha256_hex(const uint8_t sha[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[sha[i] >> 4];
		hex[2 * i + 1] = digits[sha[i] & 15];
	}
	hex[64] = '\0';
}
