/* cp_crypto.h — the few cryptographic primitives the control plane needs, from libraries.
 *
 * Random secrets and SHA-256 come from OpenSSL; password hashing is libsodium's argon2id
 * (crypto_pwhash_str: a self-describing "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string).
 * Secrets handed to clients (session ids, CSRF tokens, application tokens) are 256 random bits
 * in base64url; only their SHA-256 is stored, so a copy of the database lets no one sign in. */
#ifndef CP_CRYPTO_H
#define CP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_SECRET_BYTES 32      /* 256-bit session ids and tokens */
#define CP_SECRET_B64_LEN 43    /* base64url of 32 bytes, no padding */
#define CP_PWHASH_MAX 128       /* >= crypto_pwhash_STRBYTES */
#define CP_PASSWORD_MAX 1024    /* longer passwords are refused before hashing */

/* sodium_init, the bound on concurrent password hashes (each takes 64 MiB for ~0.1 s, so at
 * most max_hashing run at once whatever the number of HTTP threads) and a dummy hash used to
 * spend the same time on unknown user names. Returns 0 or -errno. */
int cp_crypto_init(unsigned max_hashing);
void cp_crypto_fini(void);

int cp_random(void *buf, size_t len);
/* len random bytes as base64url without padding into out (NUL-terminated). 0 or -errno. */
int cp_random_b64(char *out, size_t out_size, size_t len);
void cp_sha256(const void *data, size_t len, uint8_t out[32]);
/* Constant-time comparison of two NUL-terminated strings (length may leak, content not). */
bool cp_secret_equal(const char *a, const char *b);

int cp_password_hash(const char *password, char out[CP_PWHASH_MAX]);
/* 0 when password matches hash, -EACCES when not, -EINVAL for a malformed hash. */
int cp_password_verify(const char *hash, const char *password);
/* Spends the time of one verification and fails: for unknown or disabled users. */
void cp_password_verify_dummy(const char *password);
bool cp_password_needs_rehash(const char *hash);

#endif
