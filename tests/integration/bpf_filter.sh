#!/usr/bin/env bash
# bpf_filter (isolation: bpf): a C filter compiled with clang -target bpf, loaded and
# verified by DPDK's rte_bpf and run JIT-compiled, must keep exactly the lines the native
# `filter` stage keeps for where: "status >= 500", which must be exactly mawk's valid lines
# with status >= 500 (tests/lib/nginx_ref.sh), in order; the interpreter (jit: false)
# gives the same. A program with a loop and one that reads outside its context are
# rejected at load, before anything runs, with the verifier's reason and the stage's
# file:line:column.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$TESTLIB/nginx_ref.sh"
tap_need_sluice
progs=$SLUICE_BUILD/stages/bpf_filter
[ -f "$progs/status_ge_500.o" ] || tap_skip_all "eBPF test programs not built (no clang): $progs"
tap_plan 11
tap_tmpdir
cd "$TMP" || exit 1
eal=(-- --no-huge -m 256)

python3 "$TESTLIB/gen_nginx_log.py" -n 100000 -o access.log --seed 23 --bad-ratio 0.05
nginx_ref_5xx access.log >expect.5xx
tap_diag "input: 100000 lines, $(wc -l <expect.5xx) valid with status >= 500"

# pipeline NAME STAGE-YAML
pipeline() {
	cat >"$1.yaml" <<EOF
sources:
  access: { type: file, path: access.log }
stages:
  parse: { use: nginx_parse, inputs: [access] }
  f: $2
sinks:
  out: { type: file, inputs: [f], path: out/$1.log, format: raw }
EOF
}
pipeline native '{ use: filter, inputs: [parse], where: "status >= 500" }'
pipeline jit "{ use: bpf_filter, inputs: [parse], program: $progs/status_ge_500.o, fields: [status] }"
pipeline interp "{ use: bpf_filter, inputs: [parse], program: $progs/status_ge_500.o, fields: [status], jit: false }"
for p in native jit interp; do
	timeout 60 "$SLUICE" run "$p.yaml" "${eal[@]}" >"$p.out" 2>"$p.err"
	tap_is "$?" 0 "$p run exits 0"
done
tap_cmp out/native.log expect.5xx "the native filter keeps mawk's 5xx lines"
tap_cmp out/jit.log out/native.log "bpf_filter (JIT) gives the same answer as the native filter"
tap_cmp out/interp.log out/native.log "bpf_filter (interpreter) gives the same answer"
grep -q 'jit={.func=0x[0-9a-f]*,.sz=[1-9]' jit.err
tap_ok $? "the program was JIT-compiled"

pipeline loop "{ use: bpf_filter, inputs: [parse], program: $progs/loop.o, fields: [status] }"
timeout 60 "$SLUICE" run loop.yaml "${eal[@]}" >loop.out 2>loop.err
tap_is "$?" 2 "a program with a loop is refused before the run"
grep -q 'loops detected' loop.err && grep -q "^loop.yaml:5:[0-9]*: stage 'f' (bpf_filter): program: .*loop.o (section .text) rejected at load" loop.err
tap_ok $? "... with the verifier's reason and the stage's file:line:column"
[ "$?" -ne 0 ] && tap_diag "$(cat loop.err)"

pipeline oob "{ use: bpf_filter, inputs: [parse], program: $progs/out_of_bounds.o, fields: [status] }"
timeout 60 "$SLUICE" run oob.yaml "${eal[@]}" >oob.out 2>oob.err
tap_is "$?" 2 "a program reading outside its context is refused before the run"
grep -q 'memory boundary violation' oob.err && grep -q "^oob.yaml:5:[0-9]*: stage 'f' (bpf_filter): program: .*out_of_bounds.o (section .text) rejected at load" oob.err
tap_ok $? "... with the verifier's reason and the stage's file:line:column"
[ "$?" -ne 0 ] && tap_diag "$(cat oob.err)"
tap_done
