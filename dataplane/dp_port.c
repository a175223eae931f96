/* dp_port.c — port configuration and queue-to-worker assignment (see dp_port.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include "dp_linktype.h"
#include "dp_options.h"
#include "dp_port.h"
#include "tide_log.h"

/* A Toeplitz key made of one repeated 16-bit pattern hashes (a,b) and (b,a) alike: both
 * directions of a conversation land on one queue (Woo & Park, "Scalable TCP Session Monitoring
 * with Symmetric Receive-side Scaling"). */
static uint8_t sym_rss_key[52] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/* DPDK's last log line while fn ran (the PMD usually says more than an errno does). */
static void
last_dpdk_line(char *buf, char *out, size_t out_size)
{
	out[0] = '\0';
	if (!buf)
		return;
	size_t len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	char *line = strrchr(buf, '\n');
	snprintf(out, out_size, "%s", line ? line + 1 : buf);
}

static int
setup_port(struct dp_capture *c, uint16_t port, struct dp_link *l, uint16_t nb_rxd,
	struct rte_mempool *pool, char *err, size_t err_size)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0) {
		snprintf(err, err_size, "port %u: cannot read device info: %s", port, strerror(-rc));
		return -1;
	}
	if (!l->name[0])
		rte_eth_dev_get_name_by_port(port, l->name);
	if (c->opt && c->opt->link_name && c->n_links == 0)
		snprintf(l->name, sizeof(l->name), "%s", c->opt->link_name);
	l->port_id = port;
	l->linktype = DP_LINKTYPE_ETHERNET;
	unsigned int want = c->opt && c->opt->rx_queues ? c->opt->rx_queues : c->n_workers;
	uint16_t nq = (uint16_t)RTE_MIN(want, (unsigned int)info.max_rx_queues);
	if (nq == 0)
		nq = 1;

	memset(&conf, 0, sizeof(conf));
	uint64_t rss_hf = info.flow_type_rss_offloads &
		(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP);
	if (nq > 1 && rss_hf) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
		if (info.hash_key_size && info.hash_key_size <= sizeof(sym_rss_key)) {
			conf.rx_adv_conf.rss_conf.rss_key = sym_rss_key;
			conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
		}
		l->sw_distribute = false;
	} else {
		/* no RSS: a single queue whose owner spreads packets by the symmetric hash */
		nq = 1;
		l->sw_distribute = c->n_workers > 1;
	}
	rc = rte_eth_dev_configure(port, nq, 0, &conf);
	if (rc != 0) {
		snprintf(err, err_size, "port %s: configure with %u queues: %s", l->name, nq,
			strerror(-rc));
		return -1;
	}
	uint16_t nb_txd = 0;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nb_rxd, (unsigned int)rte_eth_dev_socket_id(port),
			NULL, pool);
		if (rc != 0) {
			snprintf(err, err_size, "port %s: RX queue %u: %s", l->name, q, strerror(-rc));
			return -1;
		}
	}
	l->n_rxq = nq;
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		snprintf(err, err_size, "port %s: start: %s", l->name, strerror(-rc));
		return -1;
	}
	rte_eth_promiscuous_enable(port); /* not every vdev supports it: not an error */
	rte_eth_stats_reset(port);
	return 0;
}

int
dp_port_setup_one(struct dp_capture *c, uint16_t port, const char *name, uint16_t nb_rxd,
	struct rte_mempool *pool, char *err, size_t err_size)
{
	if (c->n_links == DP_MAX_LINKS) {
		snprintf(err, err_size, "more than %d links", DP_MAX_LINKS);
		return -1;
	}
	struct dp_link *l = &c->links[c->n_links];
	memset(l, 0, sizeof(*l));
	if (name)
		snprintf(l->name, sizeof(l->name), "%s", name);
	/* DPDK's own log while the port is set up: its last line names the cause when a step
	 * fails ("Multiseg mbufs are not supported in infinite_rx mode" rather than EINVAL) */
	char *log = NULL;
	size_t log_len = 0;
	FILE *mem = open_memstream(&log, &log_len);
	if (mem)
		rte_openlog_stream(mem);
	int rc = setup_port(c, port, l, nb_rxd, pool ? pool : c->pool, err, err_size);
	if (mem) {
		rte_openlog_stream(NULL);
		fclose(mem);
	}
	if (rc != 0) {
		char cause[256];
		last_dpdk_line(log, cause, sizeof(cause));
		if (cause[0]) {
			size_t n = strlen(err);
			snprintf(err + n, err_size - n, " (%s)", cause);
		}
		rte_eth_dev_stop(port);
	} else {
		c->n_links++;
	}
	free(log);
	return rc == 0 ? (int)(c->n_links - 1) : -1;
}

int
dp_port_assign_queues(struct dp_capture *c, char *err, size_t err_size)
{
	/* queue q of every port goes to worker q mod n_workers */
	for (unsigned int li = 0; li < c->n_links; li++) {
		struct dp_link *l = &c->links[li];
		for (uint16_t q = 0; q < l->n_rxq; q++) {
			struct dp_worker *w = &c->workers[q % c->n_workers];
			if (w->n_rxq == DP_MAX_RXQ_PER_WORKER) {
				snprintf(err, err_size, "too many queues for %u workers",
					c->n_workers);
				return -1;
			}
			w->rxq[w->n_rxq++] = (struct dp_rxq){.link = (uint16_t)li,
				.port_id = l->port_id, .queue = q, .distribute = l->sw_distribute};
		}
	}
	return 0;
}

int
dp_port_setup_all(struct dp_capture *c, uint16_t nb_rxd, char *err, size_t err_size)
{
	uint16_t port;
	c->n_links = 0;
	RTE_ETH_FOREACH_DEV(port) {
		if (c->n_links == DP_MAX_LINKS) {
			tide_warn("dataplane", "more than %d ports; ignoring the rest",
				DP_MAX_LINKS);
			break;
		}
		if (dp_port_setup_one(c, port, NULL, nb_rxd, NULL, err, err_size) < 0)
			return -1;
	}
	if (c->n_links == 0) {
		snprintf(err, err_size, "no DPDK port to capture from: give --pcap FILE, --demo, "
			"or a port (e.g. --vdev net_pcap0,rx_pcap=FILE -- ...)");
		return -1;
	}
	return dp_port_assign_queues(c, err, err_size);
}

void
dp_port_update_stats(struct dp_capture *c)
{
	for (unsigned int li = 0; li < c->n_links; li++) {
		struct rte_eth_stats st;
		if (c->links[li].port_id == UINT16_MAX ||
			rte_eth_stats_get(c->links[li].port_id, &st) != 0)
			continue;
		c->link_rx[li] = st.ipackets;
		c->link_bytes[li] = st.ibytes;
		c->link_imissed[li] = st.imissed;
		c->link_nombuf[li] = st.rx_nombuf;
	}
}

void
dp_port_stop_all(struct dp_capture *c)
{
	for (unsigned int li = 0; li < c->n_links; li++) {
		if (c->links[li].port_id == UINT16_MAX)
			continue;
		rte_eth_dev_stop(c->links[li].port_id);
		rte_eth_dev_close(c->links[li].port_id);
	}
}
