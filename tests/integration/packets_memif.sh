#!/usr/bin/env bash
# Issue 4, external generator over memif (two processes): dpdk-testpmd in txonly mode is
# the memif server and sends 64-byte UDP frames (its defaults: IPv4, UDP port 9 to 9);
# Sluice is the memif client and reads them with a `dpdk` source on net_memif, through
# pkt_parse and pkt_filter "udp and dst_port == 9". testpmd is driven on stdin: start,
# stop (it prints how many frames it put on the ring), quit; the checks compare Sluice's
# counts with testpmd's own TX-packets, exactly: the source read them all, every one
# parsed and matched, bytes = 64 per frame (the length we asked testpmd for), none lost.
# Distinct --file-prefix per process; the test takes about 10 s.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v dpdk-testpmd >/dev/null || tap_skip_all "dpdk-testpmd not installed (scripts/setup installs dpdk-dev)"
tap_plan 6
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; [ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"' EXIT
trap 'exit 143' TERM INT HUP # so the EXIT trap runs on a timeout too

SOCK=$TMP/memif.sock
# testpmd: start sending once Sluice is up, stop after 2 s, quit after Sluice drained.
mkfifo tp.in
timeout -k 5 40 dpdk-testpmd -l 0,1 --file-prefix sl-tp-$$ --no-pci -m 256 \
	--vdev "net_memif0,role=server,socket=$SOCK" -- -i --forward-mode=txonly --txpkts=64 \
	--nb-cores=1 <tp.in >tp.out 2>&1 &
TP=$!
exec 3>tp.in

cat >memif.yaml <<YAML
sources:
  wire: { type: dpdk, device: "net_memif0,role=client,socket=$SOCK", idle: 5s }
stages:
  parse: { use: pkt_parse, inputs: [wire] }
  udp9:  { use: pkt_filter, inputs: [parse], where: "udp and dst_port == 9" }
sinks:
  keep: { type: "null", inputs: [udp9] }
  bad:  { type: "null", inputs: [parse.errors] }
YAML
# memif sockets are abstract by default (no file): wait for testpmd's prompt instead.
for _ in $(seq 200); do grep -q "testpmd>" tp.out && break; sleep 0.1; done
timeout -k 5 40 "$SLUICE" run memif.yaml -v --stats-json s.json -- --file-prefix sl-sl-$$ \
	>run.out 2>run.err &
SL=$!
for _ in $(seq 100); do grep -q "running" run.err && break; sleep 0.1; done
sleep 0.5
echo start >&3
sleep 2
echo stop >&3
wait $SL
rc=$?
echo quit >&3
exec 3>&-
wait $TP
tap_is "$rc" 0 "sluice reads net_memif until 5 s without a frame, then ends"
[ "$rc" -eq 0 ] || tap_diag "$(tail -20 run.err)"

sent=$(awk '/Accumulated forward statistics/ {a = 1} a && /TX-packets:/ {print $2; exit}' tp.out)
tap_ok "$([ "${sent:-0}" -gt 1000 ] && echo 0 || echo 1)" "testpmd sent frames over memif (TX-packets ${sent:-none})"
[ "${sent:-0}" -gt 1000 ] || tap_diag "$(tail -20 tp.out)"

python3 - s.json "${sent:-0}" >check.out <<'PY'
import json, sys
st = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
n = int(sys.argv[2])
print("rx", st["wire"]["generated"], n)
print("parsed", st["parse"]["counters"].get("parsed", 0), n)
print("matched", st["udp9"]["counters"].get("matched", 0), st["keep"]["in"], n)
print("errors", st["bad"]["in"], 0)
PY
read -r _ got want < <(grep '^rx' check.out)
tap_is "$got" "$want" "Sluice received exactly the frames testpmd sent"
read -r _ got want < <(grep '^parsed' check.out)
tap_is "$got" "$want" "every one parsed"
read -r _ got got2 want < <(grep '^matched' check.out)
tap_is "$got $got2" "$want $want" "every one is UDP to port 9 and reached the sink"
grep -q "port=net_memif0 queue=0 rx=${sent:-x} bytes=$((${sent:-0} * 64)) " run.err
tap_ok "$?" "the source summary counts $((${sent:-0} * 64)) bytes: 64 a frame"
tap_done
