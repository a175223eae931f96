/* dp_port.h — DPDK port set-up for capture: as many RX queues as workers (up to the port's
 * limit), symmetric RSS where the port offers RSS, promiscuous mode, no TX.
 *
 * A port with fewer queues than workers is marked for software distribution: the workers that
 * own its queues spread packets to the others by the symmetric hash (dp_worker.c). */
#ifndef DP_PORT_H
#define DP_PORT_H

#include "dp_capture.h"

/* Configure and start every probed port as a link (c->links), and assign queues to workers.
 * 0, or -1 with the cause in err. */
int dp_port_setup_all(struct dp_capture *c, uint16_t nb_rxd, char *err, size_t err_size);

/* Configure and start one port as the next link, named `name` (NULL: the port's name), its
 * queues filled from `pool` (NULL: c->pool). The link index, or -1 with the cause in err —
 * DPDK's own last log line when it said one. Queues are assigned by dp_port_assign_queues. */
int dp_port_setup_one(struct dp_capture *c, uint16_t port, const char *name, uint16_t nb_rxd,
	struct rte_mempool *pool, char *err, size_t err_size);

/* Queue q of every link to worker q mod n_workers. 0, or -1 with the cause in err. */
int dp_port_assign_queues(struct dp_capture *c, char *err, size_t err_size);

/* Refresh c->link_rx / link_imissed / link_nombuf from the ports' statistics. */
void dp_port_update_stats(struct dp_capture *c);

void dp_port_stop_all(struct dp_capture *c);

#endif
