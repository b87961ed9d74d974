#!/usr/bin/env bash
# The aggregate stage's time windows (time_window:) end to end: JSON lines with an event
# time in milliseconds (`ts`), out of order by up to 2 s, with late events far behind
# (200 to 250 s: 20,000 events or more, beyond what a replica can lag behind the others),
# through json_parse -> aggregate -> jsonl, checked against the windows
# Python computes from the same file with the documented rule (docs/aggregate.md, Time
# windows): an event is late when its pane's end (its first window's end) is at or before
# the watermark, the greatest event time before it minus allowed_lateness; late events
# are in no window and go to the `late` output; every other event is in each window
# holding it. Checked:
#  - sliding windows (size 30s, slide 10s, allowed_lateness 5s) grouped by host with
#    count, sum, min, max and avg, exactly, with 1 and 2 replicas, both with windows closed
#    only at the end (`window: all`) and closed while the input flows by the watermark
#    (`window: 2ms`): every run writes the same records, equal to Python's;
#  - the late events routed to a file: the same ids as Python's late events, counted in
#    the stage's `late` counter, and conservation holds (in = out + dropped);
#  - tumbling event-time windows (size 20s) with late: drop, 2 replicas: exact, and
#    the late events dropped (counted as filtered, and in `late`);
#  - the exact watermark with one replica: borderline late events 5 to 15 s behind;
#  - processing-time sliding windows (no time_field): each event is in size/slide windows,
#    so the counts over all windows add up to 3 x the events.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 22
tap_tmpdir
cd "$TMP"

# events.jsonl: 40,000 events 10 ms apart from 2023-11-14T22:13:20Z, 30 % of them up to
# 2 s early (out of order), 1 % after event 26,000 200 to 250 s behind (late); near.jsonl
# adds events 5 to 15 s behind (late or not by the exact watermark).
python3 - <<'PY'
import json, random
rnd = random.Random(7)
base = 1700000000000
def write(path, near):
    with open(path, "w") as f:
        for i in range(40000):
            t = base + i * 10
            r = rnd.random()
            if i > 26000 and r < 0.01:
                t -= rnd.randint(200000, 250000)
            elif near and i > 5000 and r < 0.03:
                t -= rnd.randint(5000, 15000)
            elif r < 0.3:
                t -= rnd.randint(0, 2000)
            f.write(json.dumps({"id": i, "ts": t, "host": "h%d" % rnd.randint(0, 2),
                                "v": rnd.randint(-50, 1000)}) + "\n")
write("events.jsonl", False)
write("near.jsonl", True)
PY

# Python's windows: expect.py FILE SIZE_MS SLIDE_MS LATENESS_MS OUT LATE_IDS
cat > expect.py <<'PY'
import json, sys
path, size, slide, lateness = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
MS = 1000000
win, late, top = {}, [], None
for line in open(path):
    e = json.loads(line)
    t = e["ts"]
    pane = t // slide * slide
    if top is not None and pane + slide <= top - lateness:
        late.append(e["id"])
        continue
    for end in range(pane + slide, pane + size + 1, slide):
        w = win.setdefault((end, e["host"]), [])
        w.append(e["v"])
    top = t if top is None else max(top, t)
with open(sys.argv[5], "w") as f:
    for (end, host) in sorted(win):
        v = win[(end, host)]
        f.write(json.dumps({"window_start": (end - size) * MS, "window_end": end * MS,
                            "host": host, "n": len(v), "total": sum(v), "lo": min(v),
                            "hi": max(v), "mean": sum(v) / len(v)}) + "\n")
with open(sys.argv[6], "w") as f:
    f.write("".join("%d\n" % i for i in sorted(late)))
PY

# norm.py GOT OUT: the records with avg rounded (one division in both, but printed
# through different float formatting), in file order.
cat > norm.py <<'PY'
import json, sys
with open(sys.argv[2], "w") as f:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        r["mean"] = round(r["mean"], 6)
        f.write(json.dumps(r) + "\n")
PY

# run NAME INPUT WINDOW REPLICAS TIME_WINDOW
run() {
	cat > "$1.yaml" <<YAML
sources:
  in: { type: file, path: $2 }
stages:
  parse: { use: json_parse, inputs: [in] }
  win:
    use: aggregate
    inputs: [parse]
    group_by: [host]
    window: $3
    replicas: $4
    time_window: $5
    aggregations:
      - { name: n, fn: count }
      - { name: total, fn: sum, field: v }
      - { name: lo, fn: min, field: v }
      - { name: hi, fn: max, field: v }
      - { name: mean, fn: avg, field: v }
sinks:
  out: { type: file, inputs: [win], path: $1.jsonl, format: jsonl }
  late: { type: file, inputs: [win.late], path: $1.late.jsonl, format: jsonl }
YAML
	"$SLUICE" run "$1.yaml" -q --stats-json "$1.stats.json"
}

SLIDING='{ type: sliding, size: 30s, slide: 10s, time_field: ts, time_unit: ms, allowed_lateness: 5s }'
python3 expect.py events.jsonl 30000 10000 5000 sliding.expect sliding.late
python3 norm.py sliding.expect sliding.expect.n
tap_diag "sliding: $(wc -l < sliding.expect) windows x hosts, $(wc -l < sliding.late) late events"
for spec in "all 1" "all 2" "2ms 1" "2ms 2"; do
	set -- $spec
	name="sl_$1_$2"
	run "$name" events.jsonl "$1" "$2" "$SLIDING"
	tap_is "$?" 0 "[$name] sliding pipeline exits 0"
	python3 norm.py "$name.jsonl" "$name.n"
	tap_cmp "$name.n" sliding.expect.n "[$name] every window of every host equals Python's (count, sum, min, max, avg)"
	python3 -c 'import json, sys; print("".join("%d\n" % i for i in sorted(json.loads(l)["id"] for l in open(sys.argv[1]))), end="")' \
		"$name.late.jsonl" > "$name.late"
	tap_cmp "$name.late" sliding.late "[$name] the late output holds exactly Python's late events"
done
read -r late conserve <<<"$(python3 - sl_2ms_2.stats.json <<'PY'
import json, sys
n = {x["name"]: x for x in json.load(open(sys.argv[1]))["nodes"]}
w = n["win"]
ok = w["in"] + w["generated"] == w["out"] + sum(w["dropped"].values()) + w["in_flight"]
print(w["counters"]["late"], int(ok))
PY
)"
tap_is "$late" "$(wc -l < sliding.late)" "[sl_2ms_2] the late counter counts the late events"
tap_is "$conserve" 1 "[sl_2ms_2] the stage conserves events (in + generated = out + dropped)"

python3 expect.py events.jsonl 20000 20000 5000 tumbling.expect tumbling.late
python3 norm.py tumbling.expect tumbling.expect.n
run tumbling events.jsonl 2ms 2 '{ type: tumbling, size: 20s, time_field: ts, time_unit: ms, allowed_lateness: 5s, late: drop }'
tap_is "$?" 0 "[tumbling] pipeline exits 0"
python3 norm.py tumbling.jsonl tumbling.n
tap_cmp tumbling.n tumbling.expect.n "[tumbling] every 20 s window equals Python's, 2 replicas"
read -r late filtered <<<"$(python3 -c '
import json, sys
w = {x["name"]: x for x in json.load(open(sys.argv[1]))["nodes"]}["win"]
print(w["counters"]["late"], w["dropped"].get("filtered", 0))' tumbling.stats.json)"
tap_is "$late:$filtered:$(wc -l < tumbling.late.jsonl)" "$(wc -l < tumbling.late):$(wc -l < tumbling.late):0" \
	"[tumbling] late: drop drops the late events, counted (late, filtered), none routed"

python3 expect.py near.jsonl 30000 10000 5000 near.expect near.late
python3 norm.py near.expect near.expect.n
tap_diag "near: $(wc -l < near.late) late events"
run nearby near.jsonl all 1 "$SLIDING"
tap_is "$?" 0 "[near] pipeline exits 0"
python3 norm.py nearby.jsonl nearby.n
tap_cmp nearby.n near.expect.n "[near] events 5 to 15 s behind: windows equal Python's exact watermark (1 replica)"
python3 -c 'import json, sys; print("".join("%d\n" % i for i in sorted(json.loads(l)["id"] for l in open(sys.argv[1]))), end="")' \
	nearby.late.jsonl > near.got.late
tap_cmp near.got.late near.late "[near] the late events are exactly Python's"

run proc events.jsonl all 2 '{ type: sliding, size: 30ms, slide: 10ms }'
tap_is "$?" 0 "[proc] processing-time pipeline exits 0"
tap_is "$(python3 -c '
import json, sys
print(sum(json.loads(l)["n"] for l in open(sys.argv[1])))' proc.jsonl)" 120000 \
	"[proc] processing-time sliding windows: counts add up to 3 x 40,000 events"
