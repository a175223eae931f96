/* cp_ssl_shim.c — lets Debian's civetweb 1.15 run TLS on OpenSSL 3.
 *
 * civetweb dlopens "libssl.so" and looks up SSL_get_peer_certificate by name; OpenSSL 3
 * renamed it SSL_get1_peer_certificate (same meaning: the caller owns a reference) and keeps
 * the old name only as a macro, so civetweb's TLS set-up fails. This module is linked with the
 * SONAME "libssl.so" and against the real libssl.so.3. tide-control dlopens it by path before
 * civetweb starts (cp_http.c): glibc then hands it to civetweb's dlopen("libssl.so") by SONAME,
 * and dlsym on it finds this function and, through the dependency, every real libssl one. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate /* the OpenSSL 3 macro would rename the definition below */

X509 *SSL_get_peer_certificate(const SSL *ssl);

X509 *
SSL_get_peer_certificate(const SSL *ssl)
{
	return SSL_get1_peer_certificate(ssl);
}
