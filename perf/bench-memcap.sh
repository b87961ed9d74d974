#!/usr/bin/env bash
# Benchmark: what `memory: SIZE` costs an in-process stage (docs/resilience.md, "Memory
# cap"): the native `filter` with and without `memory: 64M` at bursts of 1, 32 and 256, side
# by side: bench-isolation.sh with levels native and memcap (see there). With the cap every
# call switches the thread to the stage's jemalloc arena and back: a cost per burst, not
# per event, so it shows at burst 1 and fades at 32 and 256. Skips (77) on a build without
# jemalloc (the ASan build refuses `memory:` in process).
#
# usage: perf/bench-memcap.sh [--quick] [--rounds N] [--events N]
# Environment: SLUICE_BUILD (default build/). Run it under flock /tmp/sluice-bench.lock.
exec "$(dirname "$0")/bench-isolation.sh" --levels "native memcap" "$@"
