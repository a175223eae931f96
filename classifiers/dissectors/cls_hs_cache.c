/* cls_hs_cache.c — compiled Hyperscan databases cached on disk (see cls_hs_cache.h). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>
#include <time.h>

#include <sys/stat.h>

#include <openssl/evp.h>

#include "cls_hs_cache.h"
#include "tide_fs.h"
#include "tide_log.h"

#define CACHE_FILE_MAX (256u << 20)   /* a bigger file is not one of ours */
#define CACHE_KEEP_S (30 * 24 * 3600)  /* an entry unused this long goes when one is added */

/* The cache directory, or "" when there is none to use. */
static void
cache_dir(char *out, size_t size)
{
	const char *env = getenv("TIDE_CACHE_DIR");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	out[0] = '\0';
	if (env && strcmp(env, "off") == 0)
		return;
	if (env && env[0] == '/')
		snprintf(out, size, "%s", env);
	else if (xdg && xdg[0] == '/')
		snprintf(out, size, "%s/tide", xdg);
	else if (home && home[0] == '/')
		snprintf(out, size, "%s/.cache/tide", home);
	else
		return;
	struct stat st;
	if (tide_mkdir_p(out, 0700) != 0 || stat(out, &st) != 0 || !S_ISDIR(st.st_mode) ||
		st.st_uid != geteuid() || (st.st_mode & 022)) {
		tide_debug("payload", "no Hyperscan cache in %s (missing, not ours, or writable by "
			"others): compiling", out);
		out[0] = '\0';
	}
}

static void
hash_str(EVP_MD_CTX *md, const char *s)
{
	EVP_DigestUpdate(md, s, strlen(s) + 1);
}

/* The key: every input of the compile, each field length-delimited or fixed-size. */
static int
cache_key(const char *const *ex, const unsigned int *flags, const unsigned int *ids,
	const hs_expr_ext_t *const *ext, unsigned int n, unsigned int mode,
	const hs_platform_info_t *plat, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t sum[32];
	unsigned int len = 0;

	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	hash_str(md, "tide-hs-cache-1");
	hash_str(md, hs_version());
	EVP_DigestUpdate(md, plat, sizeof(*plat));
	EVP_DigestUpdate(md, &mode, sizeof(mode));
	EVP_DigestUpdate(md, &n, sizeof(n));
	for (unsigned int i = 0; i < n; i++) {
		hash_str(md, ex[i]);
		EVP_DigestUpdate(md, &flags[i], sizeof(flags[i]));
		EVP_DigestUpdate(md, &ids[i], sizeof(ids[i]));
		hs_expr_ext_t e = { 0 };
		if (ext && ext[i])
			e = *ext[i];
		EVP_DigestUpdate(md, &e, sizeof(e));
	}
	EVP_DigestFinal_ex(md, sum, &len);
	EVP_MD_CTX_free(md);
	tide_sha256_hex(sum, hex);
	return 0;
}

static hs_database_t *
cache_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	hs_database_t *db = NULL;
	char *buf = NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		st.st_size <= 0 || (uint64_t)st.st_size > CACHE_FILE_MAX)
		goto out;
	buf = malloc((size_t)st.st_size);
	if (!buf)
		goto out;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	if (hs_deserialize_database(buf, got, &db) != HS_SUCCESS)
		db = NULL;
	else
		futimens(fd, NULL); /* mtime = last use, for the pruning in cache_write */
out:
	free(buf);
	close(fd);
	return db;
}

/* Entries not used for CACHE_KEEP_S: every signature edit leaves its old databases behind. */
static void
cache_prune(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (strncmp(e->d_name, "hs-", 3) != 0 ||
			fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			!S_ISREG(st.st_mode) || now - st.st_mtime < CACHE_KEEP_S)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* Written under a private name and renamed: a reader never sees half a database. */
static void
cache_write(const char *dir, const char *path, const hs_database_t *db)
{
	char *bytes = NULL;
	size_t len = 0;
	char tmp[4200];

	if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		bool ok = tide_write_all(fd, bytes, len) == 0;
		ok = close(fd) == 0 && ok;
		if (!ok || rename(tmp, path) != 0)
			unlink(tmp);
	}
	free(bytes);
	cache_prune(dir);
}

hs_error_t
cls_hs_compile_cached(const char *const *ex, const unsigned int *flags, const unsigned int *ids,
	const hs_expr_ext_t *const *ext, unsigned int n, unsigned int mode, hs_database_t **db,
	hs_compile_error_t **cerr)
{
	char dir[4000], hex[65], path[4100];
	hs_platform_info_t plat;

	*db = NULL;
	memset(&plat, 0, sizeof(plat)); /* the key hashes it whole, padding included */
	cache_dir(dir, sizeof(dir));
	if (dir[0] && hs_populate_platform(&plat) == HS_SUCCESS &&
		cache_key(ex, flags, ids, ext, n, mode, &plat, hex) == 0) {
		snprintf(path, sizeof(path), "%s/hs-%s.db", dir, hex);
		*db = cache_read(path);
		if (*db)
			return HS_SUCCESS;
	} else {
		dir[0] = '\0';
	}
	hs_error_t rc = hs_compile_ext_multi(ex, flags, ids, ext, n, mode, NULL, db, cerr);
	if (rc == HS_SUCCESS && dir[0])
		cache_write(dir, path, *db);
	return rc;
}
