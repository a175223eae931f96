/* cp_crypto.c — random secrets, SHA-256 and argon2id password hashes.
 *
 * Password hashing is the only deliberately slow thing the control plane does: a counting
 * semaphore lets at most max_hashing hashes run at once, so a burst of logins costs queueing
 * time, never more than max_hashing × 64 MiB of memory. */
#include <errno.h>
#include <semaphore.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "cp_crypto.h"

_Static_assert(CP_PWHASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");

/* libsodium's "interactive" cost: 64 MiB, 2 passes — above OWASP's argon2id minimum. */
#define PW_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static sem_t hashing;
static char dummy_hash[CP_PWHASH_MAX];

int
cp_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int
cp_random_b64(char *out, size_t out_size, size_t len)
{
	unsigned char raw[64];
	if (len > sizeof(raw) ||
		out_size < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return -EINVAL;
	int rc = cp_random(raw, len);
	if (rc)
		return rc;
	sodium_bin2base64(out, out_size, raw, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

void
cp_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

bool
cp_secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static void
hashing_enter(void)
{
	while (sem_wait(&hashing) != 0 && errno == EINTR)
		;
}

int
cp_password_hash(const char *password, char out[CP_PWHASH_MAX])
{
	hashing_enter();
	int rc = crypto_pwhash_str(out, password, strlen(password), PW_OPSLIMIT, PW_MEMLIMIT);
	sem_post(&hashing);
	return rc == 0 ? 0 : -ENOMEM; /* libsodium fails only when it cannot get the memory */
}

int
cp_password_verify(const char *hash, const char *password)
{
	if (strncmp(hash, "$argon2id$", 10) != 0)
		return -EINVAL;
	hashing_enter();
	int rc = crypto_pwhash_str_verify(hash, password, strlen(password));
	sem_post(&hashing);
	return rc == 0 ? 0 : -EACCES;
}

void
cp_password_verify_dummy(const char *password)
{
	(void)cp_password_verify(dummy_hash, password);
}

bool
cp_password_needs_rehash(const char *hash)
{
	return crypto_pwhash_str_needs_rehash(hash, PW_OPSLIMIT, PW_MEMLIMIT) != 0;
}

int
cp_crypto_init(unsigned max_hashing)
{
	if (sodium_init() < 0)
		return -EIO;
	if (sem_init(&hashing, 0, max_hashing ? max_hashing : 1) != 0)
		return -errno;
	char pw[CP_SECRET_B64_LEN + 1];
	int rc = cp_random_b64(pw, sizeof(pw), CP_SECRET_BYTES);
	if (rc == 0)
		rc = cp_password_hash(pw, dummy_hash);
	return rc;
}

void
cp_crypto_fini(void)
{
	sem_destroy(&hashing);
}
