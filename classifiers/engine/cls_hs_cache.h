/* cls_hs_cache.h — compiled Hyperscan databases kept on disk between runs.
 *
 * Compiling the payload signatures (stream and block mode, three sides each) costs seconds at
 * every start, more than reading a whole capture of a few hundred megabytes; a serialized
 * database loads in milliseconds. The cache key is a SHA-256 over everything the compile
 * depends on — Hyperscan's version, the target platform, the mode, and each expression with
 * its flags, id and extended parameters — so a stale entry is never used: a changed signature
 * is a new key. The cache is only an optimisation: any failure (no directory, not ours, a
 * corrupt or foreign file) falls back to compiling, and at worst a file is rewritten.
 *
 * Where: $TIDE_CACHE_DIR, else $XDG_CACHE_HOME/tide, else $HOME/.cache/tide; created 0700. A
 * directory not owned by the effective user or writable by group or others is not used (a
 * database from someone else's file would run in this process). TIDE_CACHE_DIR=off disables. */
#ifndef CLS_HS_CACHE_H
#define CLS_HS_CACHE_H

#include <hs.h>

/* hs_compile_ext_multi through the cache: same arguments and result (platform: the host's).
 * *cerr is set only when compiling failed, as hs_compile_ext_multi sets it. */
hs_error_t cls_hs_compile_cached(const char *const *expressions, const unsigned int *flags,
	const unsigned int *ids, const hs_expr_ext_t *const *ext, unsigned int n, unsigned int mode,
	hs_database_t **db, hs_compile_error_t **cerr);

#endif
