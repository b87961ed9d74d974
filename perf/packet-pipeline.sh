#!/usr/bin/env bash
# The pipeline files of the packet benchmarks (issue 4), one definition for
# bench-packets.sh, bench-packets-ab.sh and callgrind-packets.sh:
#   chain: dpdk rx (net_null0) -> pkt_parse -> pkt_filter -> dpdk tx (net_null1)
#   parse: dpdk rx -> pkt_parse -> dpdk tx
#   floor: dpdk rx -> dpdk tx (no stage)
# net_null's frames are zeroed 64-byte mbufs (EtherType 0): pkt_parse finds them well
# formed and without IP, and the filter passes them all.
# usage: perf/packet-pipeline.sh chain|parse|floor   (the YAML on stdout)
set -eu
case ${1:-} in
chain) stages='  parse: { use: pkt_parse, inputs: [rx] }
  pick:  { use: pkt_filter, inputs: [parse], where: "not (udp and dst_port == 53)" }'
	last=pick ;;
parse) stages='  parse: { use: pkt_parse, inputs: [rx] }'
	last=parse ;;
floor) stages=
	last=rx ;;
*) echo "usage: $0 chain|parse|floor" >&2; exit 2 ;;
esac
echo "sources:"
echo "  rx: { type: dpdk, device: net_null0 }"
[ -z "$stages" ] || { echo "stages:"; echo "$stages"; }
echo "sinks:"
echo "  tx: { type: dpdk, device: net_null1, inputs: [$last] }"
[ -z "$stages" ] || echo '  bad: { type: "null", inputs: [parse.errors] }'
