/*
 * Fuzz target for the pcap record walk (sl_port_pcap_scan), which says how many packets a
 * net_pcap capture holds and so when a pcap source's run ends: arbitrary bytes, written to
 * a memory file, are scanned. The result must equal a second walk written here over the
 * bytes in memory, in the file's byte order: the same verdict on the file header, the same
 * count, and the same offset of the first refused record (inside the file, with a reason).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "port/port.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p, bool big)
{
	return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		   : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The reference: 0 and the count and refused offset, or -1 when not classic pcap. */
static int walk(const uint8_t *d, size_t n, int64_t *packets, int64_t *bad)
{
	size_t off = 24;
	bool big;

	if (n < 24)
		return -1;
	if (d[0] == 0xa1 && d[1] == 0xb2 &&
	    ((d[2] == 0xc3 && d[3] == 0xd4) || (d[2] == 0x3c && d[3] == 0x4d)))
		big = true;
	else if (d[3] == 0xa1 && d[2] == 0xb2 &&
		 ((d[1] == 0xc3 && d[0] == 0xd4) || (d[1] == 0x3c && d[0] == 0x4d)))
		big = false;
	else
		return -1;
	*packets = 0;
	*bad = -1;
	while (off != n) {
		uint32_t cap;

		if (n - off < 16) {
			*bad = (int64_t)off;
			break;
		}
		cap = rd32(d + off + 8, big);
		if (cap > SL_PCAP_MAX_CAPLEN || n - off - 16 < cap) {
			*bad = (int64_t)off;
			break;
		}
		off += 16 + (size_t)cap;
		(*packets)++;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct sl_pcap_scan sc;
	int64_t packets = 0, bad = -1;
	int rc, want;
	FILE *f;

	if (fd < 0)
		fd = memfd_create("pcap_scan_fuzz", 0);
	if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	f = fdopen(dup(fd), "rb");
	if (!f)
		abort();
	rc = sl_port_pcap_scan(f, (int64_t)size, &sc);
	fclose(f);
	want = walk(data, size, &packets, &bad);
	if (rc != want ||
	    (rc == 0 && (sc.packets != packets || sc.bad_off != bad ||
			 (bad >= 0) != (sc.why[0] != '\0') || sc.bad_off >= (int64_t)size))) {
		fprintf(stderr,
			"pcap_scan_fuzz: scan %d (%lld packets, bad at %lld: '%s'), "
			"reference %d (%lld, %lld) over %zu bytes\n",
			rc, (long long)sc.packets, (long long)sc.bad_off, sc.why, want,
			(long long)packets, (long long)bad, size);
		abort();
	}
	return 0;
}
