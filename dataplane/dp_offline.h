/* dp_offline.h — offline mode: a pcap/pcapng file read on the main lcore, run to completion.
 *
 * Filters run straight on the mapped file through a stack mbuf that points at the record, so
 * only the packets some job keeps are copied into real mbufs for the writer: a selective filter
 * over a large file costs little more than reading it. Nothing is dropped for lack of room:
 * offline input waits for the writer instead (dp_capture.lossless). */
#ifndef DP_OFFLINE_H
#define DP_OFFLINE_H

#include "dp_capture.h"
#include "dp_options.h"
#include "dp_pcapfile.h"

/* Read the whole file (or until a limit) through job filters into the writer rings. Sets the
 * capture's stop reason (end of input, count, duration, input error, or what a writer hit). */
void dp_offline_run(struct dp_capture *c, struct dp_pcapfile *f, const struct dp_options *o);

#endif
