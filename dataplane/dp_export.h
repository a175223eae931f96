/* dp_export.h — real-time flow export: each flow record, as it ends, goes to a collector over
 * IPFIX (libfixbuf) or as a JSON line (TIE's realtime output, the role ipfixprobe plays for
 * NEMEA).
 *
 * The workers never wait on the network: dp_export_push copies the record into a bounded queue
 * and returns; one exporter thread encodes and sends. A full queue, a collector that refuses
 * the connection or a send that fails costs records, never packets, and each lost record is
 * counted by its reason (dp_export_stats) and logged once per outage. A TCP collector that goes
 * away is reconnected to every few seconds.
 *
 * IPFIX: two templates (IPv4, IPv6) of IANA elements — start/end milliseconds, the 5-tuple,
 * packet and octet counts each way (RFC 5103 reverse elements), flowEndReason, and the
 * application as applicationName (IE 96) — plus tide's enterprise elements (tide_export_ie in
 * dp_export.c, enterprise number TIDE_IPFIX_PEN): sub-application, sub-label, confidence,
 * deciding classifier, service. Templates are re-sent every 10 s over UDP (RFC 7011, 10.3.6). */
#ifndef DP_EXPORT_H
#define DP_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "dp_session.h"
#include "tide_export.h"

/* IANA's enterprise number reserved for documentation (RFC 5612) until tide has its own:
 * collectors key tide's elements on it. */
#define TIDE_IPFIX_PEN 32473

struct dp_export;

/* What one record carries besides dp_flow_rec: the names the flow writer already resolved. */
struct dp_export_names {
	const char *app;             /* "" when unknown */
	const char *sub;
	const char *classifier;
	const char *service;         /* config/services.txt name; "" when none */
};

struct dp_export_stats {
	uint64_t sent;               /* records handed to the transport */
	uint64_t queue_full;         /* lost: the exporter thread fell behind */
	uint64_t send_failed;        /* lost: the collector refused or the send failed */
};

/* Starts the exporter thread. NULL with a one-line reason in err on failure (bad destination,
 * no memory); a collector that is not up yet is not a failure (records wait for it, counted
 * as lost if the queue fills). queue: records (0: 16384). */
struct dp_export *dp_export_open(const struct tide_export_target *t, uint32_t queue,
	uint32_t observation_domain, char *err, size_t err_size);
/* Thread-safe, never blocks on I/O. rec's addresses are what the records say (anonymised
 * when the job anonymises). json: the record as the flow writer formats a JSON line (one
 * definition of that form), without the newline; used by the JSON formats, ignored by IPFIX. */
void dp_export_push(struct dp_export *x, const struct dp_flow_rec *rec,
	const struct dp_export_names *names, const char *json, size_t json_len);
/* Sends what is queued (waits up to `drain_ms` for it; what is still queued then is counted
 * lost), stops the thread, frees. *final (NULL: not wanted) gets the final counts: every record
 * pushed is in exactly one of them. */
void dp_export_close(struct dp_export *x, unsigned int drain_ms, struct dp_export_stats *final);
void dp_export_get_stats(struct dp_export *x, struct dp_export_stats *s);

#endif
