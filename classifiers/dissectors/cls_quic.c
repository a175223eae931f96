/* cls_quic.c — QUIC dissector: decrypts the client's Initial packets (RFC 9000/9001, QUIC v2
 * RFC 9369, drafts 23-32) with keys anyone can derive from the Destination Connection ID,
 * reassembles the CRYPTO stream and reads the TLS ClientHello in it (cls_tls.c's parser) for
 * the server name and ALPN: QUIC, or QUIC/HTTP3 when ALPN starts "h3"; label = SNI.
 *
 * Why it is shaped this way: Initial protection is only obfuscation, but the AEAD tag still
 * authenticates the packet, so one authenticated Initial proves QUIC (confidence 100) and
 * random UDP never passes for it. Clients with post-quantum key shares spread the ClientHello
 * over two or more Initials and Chrome shuffles CRYPTO frames, so data is placed by offset
 * into a buffer borrowed from the worker's pool (QUIC_CRYPTO_MAX bytes) with a short list of
 * received ranges. Cipher contexts and the plaintext scratch are per worker, so the per-packet
 * path allocates nothing; keys are derived (an HKDF, allocating inside OpenSSL) at most
 * QUIC_MAX_DERIVES times per connection. Give-up bound: the first datagram is not QUIC, or
 * QUIC_MAX_PKTS payload datagrams without a complete ClientHello.
 *
 * Google QUIC (Q0xx, before IETF QUIC) has no Initial protection we can check: its client's
 * first datagram is recognised by its public header alone — flags with the version bit and no
 * reserved bit, a connection id of 0/8 bytes (Q024-Q043 layouts), the version tag "Q0nn" — or
 * Q046-Q050's long header with that tag; QUIC at GQUIC_CONFIDENCE, evidence CLS_EV_SIGNATURE. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define QUIC_CRYPTO_MAX 8192     /* CRYPTO stream bytes kept: a ClientHello with PQ shares */
#define QUIC_MAX_PKTS 6          /* payload datagrams before giving up */
#define QUIC_MAX_DERIVES 4       /* key derivations per connection (Retry, odd DCIDs) */
#define QUIC_MAX_COALESCED 8     /* long-header packets looked at in one datagram */
#define QUIC_HDR_MAX 1024        /* header bytes (the AEAD's associated data) we copy */
#define QUIC_POOL_BUFS 256       /* default buffers per worker (2 MiB); option reasm_bufs=N */
#define GQUIC_CONFIDENCE 85

/* ================================================================ versions and keys */

struct quic_version {
	uint32_t first, last;    /* version range sharing these parameters */
	uint8_t salt[20];
	uint8_t initial_type;    /* long-header type bits of an Initial */
	uint8_t retry_type;
	bool v2_labels;          /* "quicv2 key/iv/hp" instead of "quic key/iv/hp" */
};

static const struct quic_version quic_versions[] = {
	{CLS_QUIC_V1, CLS_QUIC_V1,
		{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
			0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
		0, 3, false},
	{CLS_QUIC_V2, CLS_QUIC_V2,
		{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
			0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
		1, 0, true},
	{CLS_QUIC_DRAFT29, 0xff000020u, /* drafts 29-32 */
		{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
			0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99},
		0, 3, false},
	{0xff000017u, 0xff00001cu, /* drafts 23-28 */
		{0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
			0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02},
		0, 3, false},
};

static const struct quic_version *
quic_version(uint32_t v)
{
	for (size_t i = 0; i < sizeof(quic_versions) / sizeof(quic_versions[0]); i++)
		if (v >= quic_versions[i].first && v <= quic_versions[i].last)
			return &quic_versions[i];
	return NULL;
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
hkdf(EVP_KDF_CTX *k, int mode, const uint8_t *key, size_t klen, const uint8_t *salt,
	size_t slen, const uint8_t *info, size_t ilen, uint8_t *out, size_t olen)
{
	OSSL_PARAM params[6], *q = params;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, klen);
	if (salt)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, slen);
	if (info)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, ilen);
	*q = OSSL_PARAM_construct_end();
	return EVP_KDF_derive(k, out, olen, params) == 1 ? 0 : -1;
}

/* TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 7.1). */
static int
expand_label(EVP_KDF_CTX *k, const uint8_t *secret, const char *label, uint8_t *out,
	size_t olen)
{
	uint8_t info[2 + 1 + 6 + 32 + 1];
	size_t ll = strlen(label), n = 0;

	info[n++] = (uint8_t)(olen >> 8);
	info[n++] = (uint8_t)olen;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;
	return hkdf(k, EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, 32, NULL, 0, info, n, out, olen);
}

int
cls_quic_derive_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, bool server,
	struct cls_quic_keys *out)
{
	const struct quic_version *v = quic_version(version);
	uint8_t initial[32], secret[32];
	EVP_KDF *kdf;
	EVP_KDF_CTX *k;
	int r = -EIO;

	if (!v)
		return -EPROTONOSUPPORT;
	if (dcid_len == 0 || dcid_len > CLS_QUIC_CID_MAX)
		return -EINVAL;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!k)
		return -EIO;
	if (hkdf(k, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, dcid, dcid_len, v->salt, sizeof(v->salt),
		    NULL, 0, initial, sizeof(initial)) == 0 &&
		expand_label(k, initial, server ? "server in" : "client in", secret, 32) == 0 &&
		expand_label(k, secret, v->v2_labels ? "quicv2 key" : "quic key", out->key, 16) == 0 &&
		expand_label(k, secret, v->v2_labels ? "quicv2 iv" : "quic iv", out->iv, 12) == 0 &&
		expand_label(k, secret, v->v2_labels ? "quicv2 hp" : "quic hp", out->hp, 16) == 0)
		r = 0;
	EVP_KDF_CTX_free(k);
	OPENSSL_cleanse(initial, sizeof(initial));
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

/* ================================================================ per-worker crypto */

struct cls_quic_crypto {
	EVP_CIPHER_CTX *gcm;
	EVP_CIPHER_CTX *ecb;
	uint8_t hdr[QUIC_HDR_MAX];
	uint8_t plain[65536];    /* any UDP payload */
};

struct cls_quic_crypto *
cls_quic_crypto_new(void)
{
	struct cls_quic_crypto *cc = calloc(1, sizeof(*cc));
	EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	EVP_CIPHER *ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	bool ok = false;

	if (cc && gcm && ecb) {
		cc->gcm = EVP_CIPHER_CTX_new();
		cc->ecb = EVP_CIPHER_CTX_new();
		/* bind the ciphers once; per packet only keys and IVs change (no allocation) */
		ok = cc->gcm && cc->ecb &&
		     EVP_DecryptInit_ex(cc->gcm, gcm, NULL, NULL, NULL) == 1 &&
		     EVP_EncryptInit_ex(cc->ecb, ecb, NULL, NULL, NULL) == 1 &&
		     EVP_CIPHER_CTX_set_padding(cc->ecb, 0) == 1;
	}
	EVP_CIPHER_free(gcm);
	EVP_CIPHER_free(ecb);
	if (!ok) {
		cls_quic_crypto_free(cc);
		return NULL;
	}
	return cc;
}

void
cls_quic_crypto_free(struct cls_quic_crypto *cc)
{
	if (!cc)
		return;
	EVP_CIPHER_CTX_free(cc->gcm);
	EVP_CIPHER_CTX_free(cc->ecb);
	free(cc);
}

/* ================================================================ frames and CRYPTO */

static bool
varint(const uint8_t *p, size_t len, size_t *o, uint64_t *v)
{
	size_t n;
	uint64_t x;

	if (*o >= len)
		return false;
	n = (size_t)1 << (p[*o] >> 6);
	if (len - *o < n)
		return false;
	x = p[*o] & 0x3f;
	for (size_t i = 1; i < n; i++)
		x = x << 8 | p[*o + i];
	*o += n;
	*v = x;
	return true;
}

/* Record [lo, hi) as received: insert into the sorted list, merging neighbours. */
static void
add_range(struct cls_quic_conn *c, uint16_t lo, uint16_t hi)
{
	unsigned int i = 0, j;

	while (i < c->n_ranges && c->ranges[i].hi < lo)
		i++;
	/* ranges i.. that touch [lo, hi) merge into one */
	j = i;
	while (j < c->n_ranges && c->ranges[j].lo <= hi) {
		if (c->ranges[j].lo < lo)
			lo = c->ranges[j].lo;
		if (c->ranges[j].hi > hi)
			hi = c->ranges[j].hi;
		j++;
	}
	if (j == i) { /* no overlap: insert at i */
		if (c->n_ranges == CLS_QUIC_MAX_RANGES) {
			c->crypto_overflow = 1;
			return;
		}
		memmove(&c->ranges[i + 1], &c->ranges[i], (c->n_ranges - i) * sizeof(c->ranges[0]));
		c->n_ranges++;
	} else if (j > i + 1) {
		memmove(&c->ranges[i + 1], &c->ranges[j], (c->n_ranges - j) * sizeof(c->ranges[0]));
		c->n_ranges = (uint8_t)(c->n_ranges - (j - i - 1));
	}
	c->ranges[i].lo = lo;
	c->ranges[i].hi = hi;
}

static void
crypto_data(struct cls_quic_conn *c, uint8_t *crypto, size_t cap, uint64_t off,
	const uint8_t *data, uint64_t n)
{
	if (!crypto || n == 0)
		return;
	if (cap > UINT16_MAX)
		cap = UINT16_MAX;
	if (off >= cap) {
		c->crypto_overflow = 1;
		return;
	}
	if (n > cap - off) {
		n = cap - off;
		c->crypto_overflow = 1;
	}
	memcpy(crypto + off, data, (size_t)n);
	add_range(c, (uint16_t)off, (uint16_t)(off + n));
}

int
cls_quic_parse_frames(const uint8_t *p, size_t len, struct cls_quic_conn *conn,
	uint8_t *crypto, size_t crypto_cap)
{
	size_t o = 0;
	uint64_t t, a, b, n;

	while (o < len) {
		if (p[o] == 0x00) { /* PADDING: usually hundreds of bytes */
			while (o < len && p[o] == 0x00)
				o++;
			continue;
		}
		if (!varint(p, len, &o, &t))
			return -1;
		switch (t) {
		case 0x01: /* PING */
			break;
		case 0x02: /* ACK */
		case 0x03: /* ACK with ECN counts */
			if (!varint(p, len, &o, &a) || !varint(p, len, &o, &a) ||
				!varint(p, len, &o, &n) || !varint(p, len, &o, &a))
				return -1;
			if (n > len - o) /* every range takes >= 2 bytes: bounds the loop */
				return -1;
			for (uint64_t i = 0; i < n; i++)
				if (!varint(p, len, &o, &a) || !varint(p, len, &o, &a))
					return -1;
			if (t == 0x03 && (!varint(p, len, &o, &a) || !varint(p, len, &o, &a) ||
						 !varint(p, len, &o, &a)))
				return -1;
			break;
		case 0x06: /* CRYPTO */
			if (!varint(p, len, &o, &a) || !varint(p, len, &o, &n) || n > len - o)
				return -1;
			crypto_data(conn, crypto, crypto_cap, a, p + o, n);
			o += (size_t)n;
			break;
		case 0x1c: /* CONNECTION_CLOSE (transport) */
			if (!varint(p, len, &o, &a) || !varint(p, len, &o, &b) ||
				!varint(p, len, &o, &n) || n > len - o)
				return -1;
			o += (size_t)n;
			break;
		default: /* not allowed in an Initial */
			return -1;
		}
	}
	return 1;
}

/* RFC 9000 A.3: the full packet number closest to the next expected one. */
static uint64_t
decode_pn(const struct cls_quic_conn *c, uint64_t truncated, unsigned int nbytes)
{
	uint64_t expected = c->initials ? (uint64_t)c->largest_pn + 1 : 0;
	uint64_t win = (uint64_t)1 << (nbytes * 8), hwin = win / 2;
	uint64_t cand = (expected & ~(win - 1)) | truncated;

	if (cand + hwin <= expected && cand < ((uint64_t)1 << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}

/* Remove header protection, decrypt and authenticate one Initial q[0..end) whose packet
 * number starts at pn_off. On success the plaintext is cc->plain[0..*plen). */
static bool
unprotect(struct cls_quic_crypto *cc, const struct cls_quic_keys *k,
	const struct cls_quic_conn *c, const uint8_t *q, size_t pn_off, size_t end,
	size_t *plen, uint64_t *pn_out)
{
	uint8_t mask[16], nonce[12];
	int outl = 0, fl = 0;
	uint64_t tpn = 0, pn;
	unsigned int pn_len;
	size_t hlen, clen;

	if (end < pn_off + 4 + 16 || pn_off + 4 > sizeof(cc->hdr))
		return false;
	if (EVP_EncryptInit_ex(cc->ecb, NULL, NULL, k->hp, NULL) != 1 ||
		EVP_EncryptUpdate(cc->ecb, mask, &outl, q + pn_off + 4, 16) != 1 || outl != 16)
		return false;
	memcpy(cc->hdr, q, pn_off);
	cc->hdr[0] = (uint8_t)(q[0] ^ (mask[0] & 0x0f));
	pn_len = (cc->hdr[0] & 3u) + 1;
	for (unsigned int i = 0; i < pn_len; i++) {
		cc->hdr[pn_off + i] = (uint8_t)(q[pn_off + i] ^ mask[1 + i]);
		tpn = tpn << 8 | cc->hdr[pn_off + i];
	}
	hlen = pn_off + pn_len;
	clen = end - hlen;
	if (clen < 16 + 1)
		return false;
	pn = decode_pn(c, tpn, pn_len);
	memcpy(nonce, k->iv, sizeof(nonce));
	for (unsigned int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	if (EVP_DecryptInit_ex(cc->gcm, NULL, NULL, k->key, nonce) != 1 ||
		EVP_DecryptUpdate(cc->gcm, NULL, &outl, cc->hdr, (int)hlen) != 1 ||
		EVP_DecryptUpdate(cc->gcm, cc->plain, &outl, q + hlen, (int)(clen - 16)) != 1 ||
		EVP_CIPHER_CTX_ctrl(cc->gcm, EVP_CTRL_GCM_SET_TAG, 16, (void *)(q + end - 16)) != 1 ||
		EVP_DecryptFinal_ex(cc->gcm, cc->plain + outl, &fl) != 1)
		return false;
	*plen = (size_t)outl + (size_t)fl;
	*pn_out = pn;
	return true;
}

/* Try one Initial with the cached keys, else keys derived from its own DCID. */
static bool
try_initial(struct cls_quic_crypto *cc, uint32_t version, const uint8_t *q, const uint8_t *dcid,
	uint8_t dl, size_t pn_off, size_t end, struct cls_quic_conn *c, uint8_t *crypto,
	size_t cap)
{
	struct cls_quic_keys k;
	size_t plen;
	uint64_t pn;
	bool ok = false;

	if (c->have_keys && c->version == version)
		ok = unprotect(cc, &c->keys, c, q, pn_off, end, &plen, &pn);
	bool same = c->have_keys && c->version == version && c->dcid_len == dl &&
		    memcmp(c->dcid, dcid, dl) == 0;

	/* a client's first DCID has >= 8 bytes (RFC 9000 7.2); it changes after a Retry */
	if (!ok && !same && dl >= 8 && c->derives < QUIC_MAX_DERIVES) {
		c->derives++;
		if (cls_quic_derive_keys(version, dcid, dl, false, &k) != 0)
			return false;
		ok = unprotect(cc, &k, c, q, pn_off, end, &plen, &pn);
		if (ok || c->initials == 0) { /* keep verified keys over unverified ones */
			c->keys = k;
			c->version = version;
			c->dcid_len = dl;
			memcpy(c->dcid, dcid, dl);
			c->have_keys = 1;
		}
	}
	if (!ok)
		return false;
	if (c->initials == 0 || (int64_t)pn > c->largest_pn)
		c->largest_pn = (int64_t)pn;
	c->initials++;
	cls_quic_parse_frames(cc->plain, plen, c, crypto, cap);
	return true;
}

int
cls_quic_parse_initial(struct cls_quic_crypto *cc, const uint8_t *p, size_t len,
	struct cls_quic_conn *conn, uint8_t *crypto, size_t crypto_cap)
{
	int ret = -1;
	size_t off = 0;
	uint64_t n;

	for (unsigned int pk = 0; pk < QUIC_MAX_COALESCED && off < len; pk++) {
		const uint8_t *q = p + off;
		size_t rem = len - off, o;

		/* long header with the fixed bit; anything else ends what we can walk (a short
		 * header runs to the datagram's end, zeros are padding) */
		if ((q[0] & 0xc0) != 0xc0 || rem < 7)
			break;
		uint32_t version = rd32(q + 1);
		uint8_t dl = q[5], sl;

		if (dl > CLS_QUIC_CID_MAX || rem < 7u + dl)
			break;
		sl = q[6 + dl];
		if (sl > CLS_QUIC_CID_MAX || rem < 7u + dl + sl)
			break;
		o = 7u + dl + sl;
		if (version == 0) { /* version negotiation: a list of 4-byte versions */
			if (off == 0 && rem > o && (rem - o) % 4 == 0)
				ret = 0;
			break;
		}
		const struct quic_version *v = quic_version(version);

		if (!v)
			break;
		uint8_t type = (q[0] >> 4) & 3;

		if (type == v->retry_type) { /* no length field: the rest of the datagram */
			conn->long_headers++;
			ret = ret < 0 ? 0 : ret;
			break;
		}
		if (type == v->initial_type) {
			if (!varint(q, rem, &o, &n) || n > rem - o)
				break;
			o += (size_t)n; /* token */
		}
		if (!varint(q, rem, &o, &n))
			break;
		conn->long_headers++;
		ret = ret < 0 ? 0 : ret;
		if (n > rem - o) /* cut by the capture's snap length */
			break;
		size_t end = o + (size_t)n;

		if (type == v->initial_type && cc &&
			try_initial(cc, version, q, q + 6, dl, o, end, conn, crypto, crypto_cap))
			ret = 1;
		off += end;
	}
	return ret;
}

int
cls_quic_client_hello(const struct cls_quic_conn *conn, const uint8_t *crypto,
	struct cls_tls_hello *out)
{
	if (!crypto || conn->n_ranges == 0 || conn->ranges[0].lo != 0)
		return 0;
	return cls_tls_parse_client_hello(crypto, conn->ranges[0].hi, out);
}

/* ================================================================ plugin */

enum quic_verdict { V_UNDECIDED = 0, V_RECOGNISED, V_GAVE_UP };

struct quic_state {
	struct cls_quic_conn conn;
	struct cls_reasm_ticket ticket;
	uint8_t verdict;      /* enum quic_verdict */
	uint8_t pkts;         /* payload datagrams seen */
	uint8_t confidence;
	uint8_t evidence;     /* enum cls_evidence; 0: the plugin's (authenticated) */
	uint16_t sub_id;
};
_Static_assert(sizeof(struct quic_state) <= 320, "QUIC per-session state budget");

struct quic_ctx {
	uint16_t app_quic, sub_h3;
	uint32_t pool_bufs;
};

struct quic_worker {
	struct cls_quic_crypto *cc;
	struct cls_reasm_pool *pool;
};

static int
quic_enable(void **ctx, const struct cls_config *cfg)
{
	struct quic_ctx *c;

	if (!cfg || !cfg->apps)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app_quic = cls_apps_id(cfg->apps, "QUIC");
	if (!c->app_quic) {
		free(c);
		return -ENOENT;
	}
	c->sub_h3 = cls_apps_sub_id(cfg->apps, c->app_quic, "QUIC/HTTP3");
	c->pool_bufs = cls_opt_u32(cfg->options, "reasm_bufs", QUIC_POOL_BUFS, 1, 65536);
	*ctx = c;
	return 0;
}

static void
quic_disable(void *ctx)
{
	free(ctx);
}

static void *
quic_worker_init(void *ctx)
{
	const struct quic_ctx *c = ctx;
	struct quic_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cc = cls_quic_crypto_new();
	w->pool = cls_reasm_pool_new(c->pool_bufs, QUIC_CRYPTO_MAX);
	/* without a pool QUIC is still recognised (authenticated), just without SNI */
	if (!w->cc) {
		cls_reasm_pool_free(w->pool);
		free(w);
		return NULL;
	}
	return w;
}

static void
quic_worker_free(void *ctx, void *wctx)
{
	struct quic_worker *w = wctx;

	(void)ctx;
	if (!w)
		return;
	cls_quic_crypto_free(w->cc);
	cls_reasm_pool_free(w->pool);
	free(w);
}

static void
quic_done(struct quic_state *st, struct quic_worker *w, uint8_t verdict, uint8_t confidence)
{
	st->verdict = verdict;
	st->confidence = confidence;
	cls_reasm_put(w ? w->pool : NULL, &st->ticket);
}

/* "Q0nn" */
static bool
gquic_tag(const uint8_t *v)
{
	return v[0] == 'Q' && v[1] == '0' && v[2] >= '0' && v[2] <= '9' && v[3] >= '0' &&
	       v[3] <= '9';
}

/* A gQUIC client's first datagram: public header with version (see the top of the file). */
static bool
gquic_client(const uint8_t *p, size_t len)
{
	uint8_t f;
	size_t cid;

	if (len < 14)
		return false;
	f = p[0];
	if ((f & 0xc0) == 0xc0) /* Q046-Q050: IETF-style long header, gQUIC version tag */
		return gquic_tag(p + 1) && p[3] >= '4';
	if ((f & 0x80) || !(f & 0x01)) /* reserved bit clear, version present */
		return false;
	cid = (f & 0x0c) == 0x0c || (f & 0x0c) == 0x08 ? 8 : (f & 0x0c) == 0 ? 0 : 99;
	return cid != 99 && len >= 1 + cid + 5 && gquic_tag(p + 1 + cid);
}

static void
quic_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct quic_ctx *c = ctx;
	struct quic_worker *w = wctx;
	struct quic_state *st = state;
	struct cls_tls_hello h;
	uint8_t *buf = NULL;
	int r;

	if (st->verdict)
		return;
	if (p->l4proto != IPPROTO_UDP || s->type == CLS_SESSION_HOST) {
		quic_done(st, w, V_GAVE_UP, 0);
		return;
	}
	if (p->payload_len == 0)
		return;
	st->pkts++;
	/* borrow a CRYPTO buffer only for what could be an Initial of a version we know */
	if (w && p->payload_len >= 7 && (p->payload[0] & 0xc0) == 0xc0 &&
		quic_version(rd32(p->payload + 1)))
		buf = cls_reasm_get(w->pool, &st->ticket, p->ts_ns);
	r = cls_quic_parse_initial(w ? w->cc : NULL, p->payload, p->payload_len, &st->conn, buf,
		buf ? QUIC_CRYPTO_MAX : 0);
	if (r < 0 && st->pkts == 1) { /* QUIC always opens with a long header */
		if (gquic_client(p->payload, p->payload_len)) {
			st->evidence = CLS_EV_SIGNATURE;
			quic_done(st, w, V_RECOGNISED, GQUIC_CONFIDENCE);
		} else {
			quic_done(st, w, V_GAVE_UP, 0);
		}
		return;
	}
	if (st->conn.initials == 0) {
		cls_reasm_put(w ? w->pool : NULL, &st->ticket); /* nothing kept in it */
		if (st->pkts >= QUIC_MAX_PKTS)
			quic_done(st, w, st->conn.long_headers ? V_RECOGNISED : V_GAVE_UP,
				st->conn.long_headers ? 60 : 0);
		return;
	}
	/* authenticated: QUIC for sure; now wait (bounded) for the whole ClientHello */
	buf = cls_reasm_get(w ? w->pool : NULL, &st->ticket, p->ts_ns);
	r = buf ? cls_quic_client_hello(&st->conn, buf, &h) : -1;
	if (r == 1) {
		if (h.alpn && h.alpn_len >= 2 && memcmp(h.alpn, "h3", 2) == 0)
			st->sub_id = c->sub_h3;
		if (h.sni)
			cls_label_set(s, h.sni, h.sni_len);
		quic_done(st, w, V_RECOGNISED, 100);
	} else if (r < 0 || st->conn.crypto_overflow || st->pkts >= QUIC_MAX_PKTS) {
		quic_done(st, w, V_RECOGNISED, 100);
	}
}

static bool
quic_is_classifiable(void *ctx, void *state, const struct cls_session *s)
{
	const struct quic_state *st = state;

	(void)ctx;
	return st->verdict != V_UNDECIDED || s->key.proto != IPPROTO_UDP ||
	       s->type == CLS_SESSION_HOST;
}

static void
quic_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct quic_ctx *c = ctx;
	const struct quic_state *st = state;
	uint8_t conf = st->confidence;

	(void)s;
	memset(out, 0, sizeof(*out));
	if (st->verdict == V_UNDECIDED) /* asked at session end */
		conf = st->conn.initials ? 100 : st->conn.long_headers ? 60 : 0;
	else if (st->verdict == V_GAVE_UP)
		conf = 0;
	if (conf == 0) {
		out->flags = CLS_RES_GAVE_UP | CLS_RES_FINAL;
		return;
	}
	out->app_id = c->app_quic;
	out->sub_id = st->sub_id;
	out->confidence = conf;
	out->evidence = st->evidence;
	out->flags = st->verdict == V_RECOGNISED ? CLS_RES_FINAL : 0;
	cls_label_get(s, out->label, sizeof(out->label));
}

static void
quic_session_free(void *ctx, void *wctx, void *state)
{
	struct quic_worker *w = wctx;
	struct quic_state *st = state;

	(void)ctx;
	cls_reasm_put(w ? w->pool : NULL, &st->ticket);
}

const struct cls_plugin cls_plugin_quic = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "quic",
	.version = "1.0",
	.state_size = sizeof(struct quic_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = quic_enable,
	.disable = quic_disable,
	.worker_init = quic_worker_init,
	.worker_free = quic_worker_free,
	.packet = quic_packet,
	.is_session_classifiable = quic_is_classifiable,
	.classify_session = quic_classify,
	.session_free = quic_session_free,
};
