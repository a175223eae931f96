/* cp_auth.h — who is asking: session cookies, application tokens, permissions, and the login
 * throttle.
 *
 * Two kinds of credential, both 256-bit random secrets of which only the SHA-256 is stored:
 *  - a session cookie (`tide_session`, HttpOnly, SameSite=Strict, Secure under HTTPS) from
 *    POST /auth/login; a cookie is sent by the browser on its own, so every state-changing
 *    request on a session must also carry the session's CSRF token in X-CSRF-Token;
 *  - an application token `tide_<43 base64url chars>` in `Authorization: Bearer`, made by
 *    POST /tokens, optionally expiring, revocable. Never sent implicitly, so no CSRF token.
 * Either one acts with its user's current permissions (the union over the user's groups),
 * looked up on every request, so a disabled user or a removed group takes effect at once. */
#ifndef CP_AUTH_H
#define CP_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_crypto.h"

struct cp_db;
struct cp_req;

#define CP_SESSION_COOKIE "tide_session"
#define CP_TOKEN_PREFIX "tide_"
#define CP_TOKEN_LEN (sizeof(CP_TOKEN_PREFIX) - 1 + CP_SECRET_B64_LEN)
#define CP_TOKEN_SHOWN 12 /* characters of a token kept in clear to recognise it in a list */

/* Fills r->who from the Authorization header or the session cookie. 0 when no credential was
 * presented or it was valid; -EACCES when a bearer token was presented and is not valid (the
 * caller answers 401 — a bad token never falls back to the cookie); -EIO on database errors. */
int cp_auth_identify(struct cp_req *r);
/* The user's permission set (union over their groups). 0 or -errno. */
int cp_auth_perms(struct cp_db *db, int64_t user_id, uint64_t *perms);

/* Creates a session: cookie gets the secret for the client, csrf the CSRF token. Inside the
 * caller's transaction. 0 or -errno. */
int cp_session_create(struct cp_db *db, int64_t user_id, const char *addr, int64_t expires_at,
	char cookie[CP_SECRET_B64_LEN + 1], char csrf[CP_SECRET_B64_LEN + 1]);
int cp_session_delete(struct cp_db *db, const uint8_t hash[32]);

/* Login throttle, keyed by "user:<name>" and "addr:<address>" (IPv6 by /64).
 *
 * Failures are counted in the database once a password has proved wrong, but argon2id takes
 * long enough for many guesses to be checked side by side; a check-then-count throttle lets
 * them all through. So every attempt first reserves its place, atomically, on all its keys:
 * under one mutex the key's stored streak is read and the attempts in flight (an in-process
 * table: one Hive per database, and a restart ends every attempt) are added to it. A key
 * with a streak of s failures and threshold t admits t - s attempts at once (one at a time
 * once the streak has reached t, as each further failure locks it again); while locked,
 * nothing reaches the password check. An attempt beyond the allowance waits (at most
 * CP_THROTTLE_QUEUE_MS) for those in flight to settle — they may be right, and then it
 * proceeds — and is refused if they locked the key. The reservation is released once the
 * outcome (failure counted, or streak cleared) is committed. */
#define CP_THROTTLE_KEY_MAX 96
#define CP_THROTTLE_QUEUE_MS 10000    /* longest wait for the attempts in flight to settle */
#define CP_THROTTLE_IN_FLIGHT_MS 1000 /* suggested wait when they did not settle in time */
void cp_throttle_user_key(char key[CP_THROTTLE_KEY_MAX], const char *username);
void cp_throttle_addr_key(char key[CP_THROTTLE_KEY_MAX], const char *addr);

struct cp_throttle_key {
	char key[CP_THROTTLE_KEY_MAX];
	int64_t threshold; /* failures in a row that lock it */
};
/* Reserves one attempt on each of the n keys (all or none), waiting for attempts in flight
 * when a key's allowance is taken. 0: reserved, release with cp_throttle_release once the
 * outcome is committed; > 0: nothing reserved, the milliseconds until keys[*which] may try
 * again (the longest lock among the keys; CP_THROTTLE_IN_FLIGHT_MS when the attempts in
 * flight did not settle in CP_THROTTLE_QUEUE_MS); or -errno (-EBUSY: the in-flight table is
 * full, which the thread count rules out). */
int64_t cp_throttle_reserve(struct cp_db *db, const struct cp_throttle_key *keys, size_t n,
	int64_t now, int64_t window_ms, size_t *which);
void cp_throttle_release(const struct cp_throttle_key *keys, size_t n);
/* Counts one failure inside the caller's transaction; a streak of `threshold` failures locks
 * the key for base_ms, doubling per further failure up to max_ms; a streak is forgotten after
 * window_ms without failures. Returns 1 when the key is now locked, 0 when not, or -errno. */
int cp_throttle_fail(struct cp_db *db, const char *key, int64_t now, int64_t threshold,
	int64_t base_ms, int64_t max_ms, int64_t window_ms);
int cp_throttle_clear(struct cp_db *db, const char *key);

#endif
