#!/usr/bin/env bash
# The command line itself: --help names the commands and exits 0; --version prints the
# project version from the top-level meson.build and exits 0; `sluice stages` lists the
# built-in stages nginx_parse, filter and count with their parameters (filter's where,
# count's key and window); an unknown subcommand or option exits 2 with a message on
# stderr; validating a missing pipeline file or a directory exits 2 naming it; `tap --rate`
# below its minimum exits 2 with the range; --stats-json in a missing directory exits 2
# before anything runs. EAL options: --in-memory with
# --no-huge (which DPDK refuses together) runs without shared files all the same. A run
# under its own prefix removes the empty runtime directories of sluice runs that are gone
# (killed runs leave them), and keeps one whose process lives.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 20
tap_tmpdir
cd "$TMP" || exit 1

"$SLUICE" --help >help.out 2>help.err
tap_is "$?" 0 "--help exits 0"
missing=
for word in run validate stages --stats-json; do
	grep -qw -- "$word" help.out || missing="$missing $word"
done
tap_is "${missing:-none}" none "--help on stdout names run, validate, stages and --stats-json"

version=$(sed -n "s/^[[:space:]]*version: '\([^']*\)'.*/\1/p" "$SLUICE_SOURCE/meson.build" | head -1)
"$SLUICE" --version >version.out 2>&1
tap_is "$?" 0 "--version exits 0"
grep -qF -- "$version" version.out
tap_ok $? "--version prints the project version $version (got: $(head -1 version.out))"

"$SLUICE" stages >stages.out 2>stages.err
tap_is "$?" 0 "sluice stages exits 0"
for s in nginx_parse filter count; do
	grep -qw -- "$s" stages.out
	tap_ok $? "sluice stages lists $s"
done
# Parameters appear after their stage's name and before the next stage's.
param_under() { # stage param
	awk -v s="$1" -v p="$2" '
		$1 == s || $1 == s ":" { in_s = 1; next }
		in_s && ($1 == "nginx_parse" || $1 == "filter" || $1 == "count" ||
			 $1 ~ /^(nginx_parse|filter|count):$/) { in_s = 0 }
		in_s && index($0, p) { found = 1 }
		END { exit !found }' stages.out
}
param_under filter where
tap_ok $? "filter's parameter 'where' is listed under it"
param_under count key && param_under count window
tap_ok $? "count's parameters 'key' and 'window' are listed under it"
[ -s stages.out ] || tap_diag "stages stderr: $(head -5 stages.err)"

"$SLUICE" frobnicate >unknown.out 2>unknown.err
tap_is "$?" 2 "an unknown subcommand exits 2"
tap_ok "$([ -s unknown.err ]; echo $?)" "an unknown subcommand says so on stderr"
"$SLUICE" run --no-such-option >badopt.out 2>badopt.err
tap_is "$?" 2 "an unknown option exits 2"
"$SLUICE" validate does-not-exist.yaml >nofile.out 2>nofile.err
rc=$?
grep -qF does-not-exist.yaml nofile.err
tap_ok "$([ "$rc" = 2 ] && grep -qF does-not-exist.yaml nofile.err; echo $?)" \
	"validate of a missing file exits 2 (got $rc) and names the file"
mkdir dir.yaml
"$SLUICE" validate dir.yaml >dir.out 2>dir.err
rc=$?
tap_ok "$([ "$rc" = 2 ] && grep -q 'dir.yaml: cannot read: Is a directory' dir.err; echo $?)" \
	"validate of a directory exits 2 (got $rc) and says it is one ($(head -1 dir.err))"
# --stats-json in a missing directory: refused at once (exit 2), nothing run, no file.
rm -f o.log
printf 'sources:\n  g: { type: gen, count: 777 }\nsinks:\n  o: { type: file, inputs: [g], path: o.log, format: raw }\n' >sj.yaml
"$SLUICE" run sj.yaml --stats-json nodir/s.json -- --no-huge -m 256 >sj.out 2>sj.err
rc=$?
tap_ok "$([ "$rc" = 2 ] && grep -q -- '--stats-json nodir/s.json: cannot write it: No such file or directory' sj.err &&
	[ ! -e o.log ] && [ ! -e nodir ]; echo $?)" \
	"--stats-json nodir/s.json exits 2 (got $rc) before running ($(grep -o 'msg=.*' sj.err | head -1))"
# A rate whose sampling period does not fit in 64 bits of TSC ticks (undefined behaviour in
# the tap) is refused before any socket is looked for.
"$SLUICE" tap parse --rate 1e-12 --socket nowhere.sock >rate.out 2>rate.err
rc=$?
tap_ok "$([ "$rc" = 2 ] && grep -q 'rate takes events per second, from 0.001 to 100000' rate.err; echo $?)" \
	"tap --rate 1e-12 exits 2 (got $rc) and gives the range ($(head -1 rate.err))"
printf 'sources:\n  g: { type: gen, count: 777 }\nsinks:\n  o: { type: file, inputs: [g], path: o.log, format: raw }\n' >mem.yaml
"$SLUICE" run mem.yaml -- --no-huge -m 256 --in-memory >mem.out 2>mem.err
rc=$?
tap_is "$rc/$(wc -l <o.log 2>/dev/null)" "0/777" "--no-huge with --in-memory runs (exit 0, every line written)"
grep -q -- "--in-memory does not go with --no-huge" mem.err
tap_ok $? "and says how it runs instead ($(grep -o 'msg=.*' mem.err | head -1))"
if [ "$(id -u)" = 0 ] && [ -d /var/run/dpdk ]; then
	sleep 0 &
	dead=$!
	wait "$dead"
	sleep 60 &
	live=$!
	mkdir -p "/var/run/dpdk/sluice$dead" "/var/run/dpdk/sluice$live"
	"$SLUICE" run mem.yaml -q -- --no-huge -m 256 >sweep.out 2>&1
	rc=$?
	[ "$rc" = 0 ] && [ ! -e "/var/run/dpdk/sluice$dead" ] && [ -d "/var/run/dpdk/sluice$live" ]
	tap_ok $? "the runtime directory of a gone run is removed, a live one's kept (exit $rc)"
	kill "$live" 2>/dev/null
	wait "$live" 2>/dev/null
	rmdir "/var/run/dpdk/sluice$live" "/var/run/dpdk/sluice$dead" 2>/dev/null
else
	tap_skip 1 "needs root for /var/run/dpdk"
fi
tap_done
