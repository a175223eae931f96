/* cls_truth.h — TIE's pre-classifier: a ground-truth file that labels sessions of the same
 * input, used to train classifiers and to measure accuracy.
 *
 * CSV with a header line naming its columns (any order; extra columns ignored):
 *   proto,src_ip,src_port,dst_ip,dst_port,app[,sub_app][,first_ts,last_ts]
 * proto is a name (tcp, udp, sctp, icmp, icmp6) or number; app/sub_app are names from the
 * application table; first_ts/last_ts (seconds, may be fractional) limit the label to sessions
 * starting in that window (5-tuples get reused). A 5-tuple matches in either direction. */
#ifndef CLS_TRUTH_H
#define CLS_TRUTH_H

#include <stddef.h>
#include <stdint.h>

#include "cls_apps.h"
#include "cls_plugin.h"

struct cls_truth_table;

/* NULL on error with "FILE:LINE: reason" in err (unknown app name, bad address, …). */
struct cls_truth_table *cls_truth_load(const char *path, const struct cls_apps *apps, char *err,
	size_t errlen);
void cls_truth_free(struct cls_truth_table *t);
size_t cls_truth_count(const struct cls_truth_table *t);

/* Label of the session with this key starting at first_ts_ns: 1 and *out, or 0 if unlabelled. */
int cls_truth_lookup(const struct cls_truth_table *t, const struct cls_key *k, uint64_t first_ts_ns,
	struct cls_truth *out);

#endif
