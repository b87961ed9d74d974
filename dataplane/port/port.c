/*
 * Port table and set-up for the dpdk source and sink (see port.h). The table is filled by
 * sl_port_plan from the pipeline file before the EAL starts and used by source and sink
 * create/destroy afterwards, all on the control thread, so it needs no lock. Owns the
 * ports it opened: it stops and closes each one when its last user lets go, and it
 * registers pdump (rte_pdump_init) with the first port so dpdk-dumpcap can attach.
 */
#include "port.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_ethdev.h>
#include <rte_pdump.h>

#include "base/lazylib.h"
#include "base/log.h"
#include "config/config.h"

#define PORT_RX_DESC  512
#define PORT_TX_DESC  512
#define PORT_QUEUES   16
#define PORT_ARGV_MAX 256

struct sl_port {
	char name[64];
	char *device; /* the declaring device string (with args), or NULL for a bare name */
	bool pci;
	bool loop;
	bool added;	       /* sl_port_plan passed it to the EAL */
	uint16_t n_rxq, n_txq; /* planned */
	int64_t rx_expected;   /* packets in the rx_pcap files, -1 unknown */
	bool capture;	       /* net_pcap reading rx_pcap files */
	/* after the EAL is up */
	uint16_t port_id;
	bool configured, started;
	uint16_t n_rxq_ready; /* RX queues set up; also the next one to hand out */
	uint16_t txq_next;
	uint16_t n_txq_conf;
	uint32_t refs;
};

static struct sl_port ports[SL_PORT_MAX_PORTS];
static uint32_t n_ports;
static bool pdump_on;
/* librte_pdump (and the librte_bpf and libpcap it needs), opened with the first port
 * instead of linked: ~1 ms of every run's start-up otherwise (base/lazylib.h). */
static struct sl_lazylib pdump_lib = { .soname = "librte_pdump.so.23" };
static __typeof__(&rte_pdump_init) pdump_init;
static __typeof__(&rte_pdump_uninit) pdump_uninit;

int sl_port_check_device(const char *device, char *msg, size_t len)
{
	if (!device || !device[0] || device[0] == ',') {
		snprintf(msg, len, "device must name a port");
		return -EINVAL;
	}
	if (strcspn(device, ",") > SL_PORT_NAME_MAX) {
		snprintf(msg, len, "device name longer than %d bytes", SL_PORT_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

void sl_port_device_name(const char *device, char *name, size_t len)
{
	size_t n = strcspn(device, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, device, n);
	name[n] = '\0';
}

/* A PCI address: [dddd:]bb:dd.f in hex. */
static bool port_is_pci(const char *name)
{
	unsigned a, b, c, d;
	char tail;

	return sscanf(name, "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4 ||
	       sscanf(name, "%x:%x.%x%c", &a, &b, &c, &tail) == 3;
}

static struct sl_port *port_find(const char *name)
{
	for (uint32_t i = 0; i < n_ports; i++)
		if (strcmp(ports[i].name, name) == 0)
			return &ports[i];
	return NULL;
}

static struct sl_port *port_get(const char *device)
{
	char name[64];
	struct sl_port *p;

	sl_port_device_name(device, name, sizeof(name));
	p = port_find(name);
	if (p || n_ports == SL_PORT_MAX_PORTS)
		return p;
	p = &ports[n_ports++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->pci = port_is_pci(name);
	p->rx_expected = -1;
	return p;
}

int sl_port_pcap_scan(FILE *f, int64_t size, struct sl_pcap_scan *out)
{
	uint8_t gh[24], rh[16];
	int64_t off = sizeof(gh);
	uint32_t magic;
	bool swap;

	*out = (struct sl_pcap_scan){ .bad_off = -1 };
	if (size < (int64_t)sizeof(gh) || fseeko(f, 0, SEEK_SET) != 0 ||
	    fread(gh, 1, sizeof(gh), f) != sizeof(gh))
		return -1;
	memcpy(&magic, gh, 4);
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
		swap = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
		swap = true;
	else
		return -1;
	while (off < size) {
		int64_t left = size - off - (int64_t)sizeof(rh);
		uint32_t caplen;

		if (left < 0) {
			snprintf(out->why, sizeof(out->why),
				 "record header cut short (%" PRId64 " of 16 bytes)", size - off);
			break;
		}
		if (fseeko(f, off, SEEK_SET) != 0 || fread(rh, 1, sizeof(rh), f) != sizeof(rh)) {
			snprintf(out->why, sizeof(out->why), "record header unreadable");
			break;
		}
		memcpy(&caplen, rh + 8, 4);
		if (swap)
			caplen = __builtin_bswap32(caplen);
		if (caplen > SL_PCAP_MAX_CAPLEN) {
			snprintf(out->why, sizeof(out->why),
				 "capture length %" PRIu32 " over libpcap's limit of %d", caplen,
				 SL_PCAP_MAX_CAPLEN);
			break;
		}
		if (caplen > left) {
			snprintf(out->why, sizeof(out->why),
				 "record cut short (%" PRId64 " of %" PRIu32 " bytes)", left,
				 caplen);
			break;
		}
		out->packets++;
		off += (int64_t)sizeof(rh) + caplen;
	}
	if (out->why[0])
		out->bad_off = off;
	return 0;
}

int64_t sl_port_pcap_count(const char *path)
{
	struct sl_pcap_scan sc;
	struct stat st;
	FILE *f = fopen(path, "rb");
	int rc;

	if (!f)
		return -1;
	rc = fstat(fileno(f), &st) == 0 ? sl_port_pcap_scan(f, st.st_size, &sc) : -1;
	fclose(f);
	if (rc != 0)
		return -1;
	if (sc.bad_off >= 0)
		SL_WARN("port",
			"%s: byte %" PRId64
			": %s; libpcap stops reading the capture there: %" PRId64
			" whole records before it",
			path, sc.bad_off, sc.why, sc.packets);
	return sc.packets;
}

/* The rx_pcap=PATH arguments of a net_pcap device string, one per RX queue. */
static void port_scan_pcap(struct sl_port *p)
{
	const char *s = p->device;
	int64_t total = 0;
	bool any = false;

	if (!s || strncmp(p->name, "net_pcap", 8) != 0)
		return;
	while ((s = strchr(s, ',')) != NULL) {
		char path[4096];
		size_t n;

		s++;
		if (strncmp(s, "rx_pcap=", 8) != 0)
			continue;
		n = strcspn(s + 8, ",");
		if (n >= sizeof(path))
			return;
		memcpy(path, s + 8, n);
		path[n] = '\0';
		any = true;
		int64_t c = sl_port_pcap_count(path);
		total = c < 0 || total < 0 ? -1 : total + c;
	}
	p->capture = any;
	p->rx_expected = any && !p->loop ? total : -1;
}

static bool argv_names_device(int argc, char **argv, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < argc; i++) {
		const char *v = NULL;

		if ((strcmp(argv[i], "--vdev") == 0 || strcmp(argv[i], "-a") == 0 ||
		     strcmp(argv[i], "--allow") == 0) &&
		    i + 1 < argc)
			v = argv[i + 1];
		else if (strncmp(argv[i], "--vdev=", 7) == 0)
			v = argv[i] + 7;
		else if (strncmp(argv[i], "--allow=", 8) == 0)
			v = argv[i] + 8;
		if (v && strncmp(v, name, len) == 0 && (v[len] == '\0' || v[len] == ','))
			return true;
	}
	return false;
}

int sl_port_plan(const struct sl_config *cfg, int argc, char **argv, int *out_argc,
		 char ***out_argv)
{
	static char *eal_argv[PORT_ARGV_MAX];
	int n = 0;

	*out_argc = argc;
	*out_argv = argv;
	for (uint32_t i = 0; cfg && i < cfg->n_nodes; i++) {
		const struct sl_config_node *nd = &cfg->nodes[i];
		const struct sl_arg *dev, *loop;
		struct sl_port *p;

		/* `forward` is a dpdk sink written as a stage (config.c turns it into one). */
		if (nd->role == SL_NODE_STAGE ||
		    (strcmp(nd->kind, "dpdk") != 0 && strcmp(nd->kind, "forward") != 0))
			continue;
		dev = sl_args_get(&nd->args, "device");
		if (!dev || !dev->str || !dev->str[0])
			continue;
		p = port_get(dev->str);
		if (!p) {
			SL_ERR("port", "more than %d ports", SL_PORT_MAX_PORTS);
			return -E2BIG;
		}
		if (strchr(dev->str, ',')) {
			if (p->device && strcmp(p->device, dev->str) != 0) {
				fprintf(stderr,
					"%s:%u:%u: %s: port %s is declared twice with different "
					"arguments (name it by its bare name the second time)\n",
					cfg->file, dev->line, dev->column, nd->name, p->name);
				return -EINVAL;
			}
			if (!p->device)
				p->device = strdup(dev->str);
			if (!p->device)
				return -ENOMEM;
		}
		if (nd->role == SL_NODE_SOURCE) {
			p->n_rxq = (uint16_t)(p->n_rxq + nd->replicas);
			loop = sl_args_get(&nd->args, "loop");
			if (loop && loop->b)
				p->loop = true;
		} else {
			p->n_txq++;
		}
	}
	if (n_ports == 0)
		return 0;
	if (argc + 2 * (int)n_ports + 1 > PORT_ARGV_MAX) {
		SL_ERR("port", "too many EAL options (%d)", argc);
		return -E2BIG;
	}
	for (int i = 0; i < argc; i++)
		eal_argv[n++] = argv[i];
	for (uint32_t i = 0; i < n_ports; i++) {
		struct sl_port *p = &ports[i];
		const char *dev = p->device ? p->device : p->name;
		char *arg;

		port_scan_pcap(p);
		if (argv_names_device(argc, argv, p->name))
			continue;
		/* Names of ports the EAL makes by itself, or devices given some other way
		 * (a bare name of no known kind), are looked up after start-up. */
		if (!p->pci && strncmp(p->name, "net_", 4) != 0)
			continue;
		if (p->loop && p->capture && !strstr(dev, "infinite_rx=")) {
			size_t len = strlen(dev) + sizeof(",infinite_rx=1");

			arg = malloc(len);
			if (!arg)
				return -ENOMEM;
			snprintf(arg, len, "%s,infinite_rx=1", dev);
		} else {
			arg = strdup(dev);
			if (!arg)
				return -ENOMEM;
		}
		eal_argv[n++] = p->pci ? "-a" : "--vdev";
		eal_argv[n++] = arg;
		p->added = true;
		SL_DEBUG("port", "EAL %s %s", p->pci ? "-a" : "--vdev", arg);
	}
	eal_argv[n] = NULL;
	*out_argc = n;
	*out_argv = eal_argv;
	return 0;
}

static int port_configure(struct sl_port *p, char *err, size_t errlen)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nb_rxd = PORT_RX_DESC, nb_txd = PORT_TX_DESC;
	int ret;

	if (rte_eth_dev_get_port_by_name(p->name, &p->port_id) != 0) {
		if (p->added)
			snprintf(err, errlen,
				 "port %s was not created: the EAL could not probe it (see DPDK's "
				 "message above)",
				 p->name);
		else
			snprintf(err, errlen, "no port named %s (devices: --vdev DRIVER, -a PCI)",
				 p->name);
		return -ENODEV;
	}
	ret = rte_eth_dev_info_get(p->port_id, &info);
	if (ret < 0) {
		snprintf(err, errlen, "%s: cannot read device info: %s", p->name, strerror(-ret));
		return ret;
	}
	if (p->n_rxq > info.max_rx_queues || p->n_rxq > PORT_QUEUES) {
		snprintf(err, errlen, "%s has %u RX queue(s); the pipeline needs %u (replicas)",
			 p->name, info.max_rx_queues, p->n_rxq);
		return -EINVAL;
	}
	/* An unused TX queue costs nothing and lets net_pcap open its tx_pcap. */
	p->n_txq_conf = p->n_txq ? p->n_txq : (info.max_tx_queues ? 1 : 0);
	if (p->n_txq_conf > info.max_tx_queues || p->n_txq_conf > PORT_QUEUES) {
		snprintf(err, errlen, "%s has %u TX queue(s); the pipeline needs %u (sinks)",
			 p->name, info.max_tx_queues, p->n_txq_conf);
		return -EINVAL;
	}
	memset(&conf, 0, sizeof(conf));
	if (p->n_rxq > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) &
			info.flow_type_rss_offloads;
	}
	ret = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq_conf, &conf);
	if (ret < 0) {
		snprintf(err, errlen, "%s: configure (%u rx, %u tx queues): %s", p->name, p->n_rxq,
			 p->n_txq_conf, strerror(-ret));
		return ret;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; q < p->n_txq_conf; q++) {
		ret = rte_eth_tx_queue_setup(p->port_id, q, nb_txd,
					     (unsigned)rte_eth_dev_socket_id(p->port_id), NULL);
		if (ret < 0) {
			snprintf(err, errlen, "%s: TX queue %u: %s", p->name, q, strerror(-ret));
			return ret;
		}
	}
	p->configured = true;
	if (!pdump_on) {
		/* dpdk-dumpcap attaches as a secondary process: not possible in-memory or
		 * without a shared config, which the default EAL options choose. */
		if (sl_lazylib_open(&pdump_lib, "dpdk-dumpcap support") == 0 &&
		    SL_LAZYLIB_BIND(&pdump_lib, pdump_init, rte_pdump_init) &&
		    SL_LAZYLIB_BIND(&pdump_lib, pdump_uninit, rte_pdump_uninit) &&
		    pdump_init() == 0)
			pdump_on = true;
		else
			SL_INFO("port", "pdump unavailable (needs a shared EAL config: "
					"--file-prefix NAME)");
	}
	return 0;
}

static int port_start(struct sl_port *p, char *err, size_t errlen)
{
	int ret = rte_eth_dev_start(p->port_id);

	if (ret < 0) {
		snprintf(err, errlen, "%s: start: %s", p->name, strerror(-ret));
		return ret;
	}
	/* Best effort: virtual devices and some NICs do not have it. */
	rte_eth_promiscuous_enable(p->port_id);
	rte_eth_stats_reset(p->port_id);
	p->started = true;
	SL_INFO("port", "%s (port %u) started: %u rx, %u tx queue(s)", p->name, p->port_id,
		p->n_rxq, p->n_txq_conf);
	return 0;
}

static struct sl_port *port_for_open(const char *device, char *err, size_t errlen)
{
	char name[64];
	struct sl_port *p;

	sl_port_device_name(device, name, sizeof(name));
	p = port_find(name);
	if (!p)
		snprintf(err, errlen, "port %s was not planned before the EAL started", name);
	return p;
}

int sl_port_open_rx(const char *device, struct rte_mempool *pool, struct sl_port **out,
		    uint16_t *queue_out, char *err, size_t errlen)
{
	struct sl_port *p = port_for_open(device, err, errlen);
	uint16_t nb_rxd = PORT_RX_DESC, nb_txd = PORT_TX_DESC, queue;
	int ret;

	*out = NULL;
	if (!p)
		return -ENODEV;
	if (!p->configured && (ret = port_configure(p, err, errlen)) < 0)
		return ret;
	/* Queues in open order: replicas of one source, then the next source's. */
	queue = p->n_rxq_ready;
	if (queue >= p->n_rxq) {
		snprintf(err, errlen, "%s: all %u planned RX queues are taken", p->name, p->n_rxq);
		return -EINVAL;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
	ret = rte_eth_rx_queue_setup(p->port_id, queue, nb_rxd,
				     (unsigned)rte_eth_dev_socket_id(p->port_id), NULL, pool);
	if (ret < 0) {
		snprintf(err, errlen, "%s: RX queue %u: %s", p->name, queue, strerror(-ret));
		return ret;
	}
	p->refs++;
	if (++p->n_rxq_ready == p->n_rxq && !p->started && (ret = port_start(p, err, errlen)) < 0) {
		sl_port_close(p);
		return ret;
	}
	*queue_out = queue;
	*out = p;
	return 0;
}

int sl_port_open_tx(const char *device, struct sl_port **out, uint16_t *queue, char *err,
		    size_t errlen)
{
	struct sl_port *p = port_for_open(device, err, errlen);
	int ret;

	*out = NULL;
	if (!p)
		return -ENODEV;
	if (!p->configured && (ret = port_configure(p, err, errlen)) < 0)
		return ret;
	if (p->txq_next >= p->n_txq_conf) {
		snprintf(err, errlen, "%s: no TX queue left (%u configured)", p->name,
			 p->n_txq_conf);
		return -EINVAL;
	}
	p->refs++;
	*queue = p->txq_next++;
	/* A port nobody reads starts with its TX queues. */
	if (p->n_rxq == 0 && !p->started && (ret = port_start(p, err, errlen)) < 0) {
		sl_port_close(p);
		return ret;
	}
	*out = p;
	return 0;
}

void sl_port_close(struct sl_port *p)
{
	if (!p || --p->refs > 0)
		return;
	if (p->started) {
		/* Stopping makes net_pcap close its dumpers, which completes the tx_pcap. */
		rte_eth_dev_stop(p->port_id);
		p->started = false;
	}
	if (p->configured) {
		rte_eth_dev_close(p->port_id);
		p->configured = false;
	}
	p->n_rxq_ready = 0;
	p->txq_next = 0;
	for (uint32_t i = 0; i < n_ports; i++)
		if (ports[i].configured)
			return;
	if (pdump_on) {
		pdump_uninit();
		pdump_on = false;
	}
}

uint16_t sl_port_id(const struct sl_port *p)
{
	return p->port_id;
}

const char *sl_port_name(const struct sl_port *p)
{
	return p->name;
}

int64_t sl_port_rx_expected(const struct sl_port *p)
{
	return p->rx_expected;
}

bool sl_port_is_capture(const struct sl_port *p)
{
	return p->capture && !p->loop;
}

bool sl_port_is_pci(const struct sl_port *p)
{
	return p->pci;
}

void sl_port_stats(const struct sl_port *p, struct rte_eth_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (p->configured && rte_eth_stats_get(p->port_id, st) != 0)
		memset(st, 0, sizeof(*st));
}
