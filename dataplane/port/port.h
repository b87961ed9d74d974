/*
 * Ethernet ports shared by the `dpdk` source and sink. A pipeline names a port by its
 * device string ("net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", a PCI address, or the bare
 * name of a device declared elsewhere); sl_port_plan reads the pipeline before the EAL
 * starts, adds the `--vdev` or `-a` EAL arguments and counts the RX queues (one per source
 * replica) and TX queues (one per sink) each port needs. After the EAL is up, the source
 * and sink instances open their queues; the port is configured at the first open and
 * started once its last RX queue is set up, so a source and a sink can share one port.
 * Everything here runs on the control thread; the data path only uses the port id and
 * queue number it was given.
 */
#ifndef SL_PORT_PORT_H
#define SL_PORT_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

struct sl_config;
struct sl_port;

/** Most ports a pipeline may name. */
#define SL_PORT_MAX_PORTS 32

/**
 * Plan the ports of cfg (sources and sinks of type dpdk) and build the EAL argument vector:
 * the user's argv[0..argc) plus `--vdev DEV` or `-a PCI` for every declared device the
 * user did not pass already. *out_argv stays valid for the process lifetime. 0 or -errno
 * (logged).
 */
int sl_port_plan(const struct sl_config *cfg, int argc, char **argv, int *out_argc,
		 char ***out_argv);

/** Device name of a device string: the text before the first ','. */
void sl_port_device_name(const char *device, char *name, size_t len);

/** Longest device name (the text before the first ','), as the ports keep it. */
#define SL_PORT_NAME_MAX 63

/** Check a `device:` value (a source's or a sink's): it names a port, in at most
 *  SL_PORT_NAME_MAX bytes. 0, or -EINVAL with a sentence in msg. */
int sl_port_check_device(const char *device, char *msg, size_t len);

/**
 * Open the next RX queue of the port named by device (EAL must be up), taking its mbufs
 * from pool; *queue gets its number. Configures the port at its first open and starts it
 * when every planned RX queue is set up. 0 or -errno with a message in err.
 */
int sl_port_open_rx(const char *device, struct rte_mempool *pool, struct sl_port **out,
		    uint16_t *queue, char *err, size_t errlen);

/** Open the next free TX queue of the port named by device; *queue gets its number. */
int sl_port_open_tx(const char *device, struct sl_port **out, uint16_t *queue, char *err,
		    size_t errlen);

/** Drop one reference; the last one stops and closes the port. */
void sl_port_close(struct sl_port *p);

uint16_t sl_port_id(const struct sl_port *p);
const char *sl_port_name(const struct sl_port *p);

/** Packets the port's capture files hold (net_pcap rx_pcap), -1 when unknown or not a
 *  finite capture (live interface, `loop: true`). */
int64_t sl_port_rx_expected(const struct sl_port *p);

/** Whether the port replays a capture (its end ends the source). */
bool sl_port_is_capture(const struct sl_port *p);

/** Whether the port is a PCI device (it DMAs: buffers need an IOVA). */
bool sl_port_is_pci(const struct sl_port *p);

/** Port statistics (zeroed when the PMD cannot say). */
void sl_port_stats(const struct sl_port *p, struct rte_eth_stats *st);

/** The largest capture length libpcap accepts in a record of an Ethernet capture (its
 *  max_snaplen_for_dlt): a longer one is an error that ends its reading of the file. */
#define SL_PCAP_MAX_CAPLEN 262144

/** What sl_port_pcap_scan found in a classic pcap file. */
struct sl_pcap_scan {
	int64_t packets; /**< records libpcap hands out, before the first one it refuses */
	int64_t bad_off; /**< byte offset of that refused record, -1 when there is none */
	char why[96];	 /**< what is wrong with it ("" when nothing is) */
};

/** Walk the classic pcap file open as f (size bytes) record by record, as libpcap reads it:
 *  a record counts when its 16-byte header and its capture length in bytes are all there
 *  and that length is at most SL_PCAP_MAX_CAPLEN; the first that is not ends the walk
 *  (libpcap stops with an error there). 0, or -1 when f is not classic pcap (pcapng, short
 *  or unreadable). */
int sl_port_pcap_scan(FILE *f, int64_t size, struct sl_pcap_scan *out);

/** The packets of a classic pcap file (sl_port_pcap_scan); -1 when unreadable or not
 *  classic pcap. A refused record is logged with the path and its byte offset. */
int64_t sl_port_pcap_count(const char *path);

#endif
