/* cls_services.h — the service table (config/services.txt): who is behind a session (Google,
 * Netflix, Cloudflare), next to what protocol it speaks (the application table, cls_apps.h).
 *
 * Why a table of its own: an application is a protocol tide identifies from the traffic (TLS,
 * QUIC, DNS); a service is the organisation or product the traffic goes to, known from a name
 * the session carries (SNI, HTTP Host, DNS query name) or from a DPI engine (nDPI's
 * "TLS.YouTube"). One table gives both routes the same names and ids, so the flow records and
 * the service mix say "YouTube" whichever route found it.
 *
 * File format, '#' comments, blank lines ignored:
 *   <id> <Name> <domain suffix> [<domain suffix>...]
 * id 1..65535 (0 is "no service"); Name up to 31 letters, digits, '-', '_', '.', '+' (it goes
 * into CSV and JSON unquoted), unique case-insensitively ("unknown" is reserved: the summary's
 * row of sessions without a service); a suffix is a DNS name (letters, digits, '-', '_', dots
 * between non-empty labels), matched case-insensitively on label boundaries, and belongs to
 * one service only. A service may continue on further lines that repeat its id and name. */
#ifndef CLS_SERVICES_H
#define CLS_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#define CLS_SERVICE_NAME_MAX 32

struct cls_services;

/* Load a table. NULL on error with "FILE:LINE: reason" (or "FILE: reason") in err and errno
 * set (ENOENT for a missing file, EINVAL for a bad line, ENOMEM). */
struct cls_services *cls_services_load(const char *path, char *err, size_t errlen);
void cls_services_free(struct cls_services *s);

/* id of a service name (case-insensitive); 0 if unknown or s is NULL. */
uint16_t cls_services_id(const struct cls_services *s, const char *name);
/* name of an id; "" for 0, an id not in the table, or s NULL. */
const char *cls_services_name(const struct cls_services *s, uint16_t id);
/* The service of a host name: the longest suffix in the table that equals the host or ends it
 * at a label boundary ("notgoogle.com" does not match "google.com"), case-insensitive, a
 * trailing dot ignored; 0 when none (or s/host NULL). Cost: one hash probe per label of the
 * host — cheap enough for once per decided session. */
uint16_t cls_services_match(const struct cls_services *s, const char *host);
/* the largest id in the table (0 when empty or NULL): arrays indexed by id need max + 1 */
uint16_t cls_services_max_id(const struct cls_services *s);
size_t cls_services_count(const struct cls_services *s);

#endif
