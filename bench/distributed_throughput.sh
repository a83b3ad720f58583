#!/usr/bin/env bash
# 2 ranks vs 1 rank on this machine, and 2 ranks with gradient buckets reduced during backward (run.overlap_reduce, the
# default) vs all after backward (the design before it): training samples/s of examples/default.yaml with 512-wide MLP
# encoders (2.2 MB of gradients: a 1 MiB last bucket and one more that can overlap), global batch 256, 10 epochs;
# alternating A B C D, median of 5 and the paired ratios. Usage: bench/distributed_throughput.sh [build/bin/mmdebias] [reps]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/mmdebias}
reps=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(examples/default.yaml train.epochs=10 'model.encoders.m0.hidden=[512,512]' 'model.encoders.m1.hidden=[512,512]')
rate() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["train"]["samples_per_s"])' "$1/summary.json"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
two_ranks() {
  local out=$1 port r; shift
  port=$(free_port)
  for r in 0 1; do
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 \
      "$bin" run "${common[@]}" --out "$out" train.batch_size=128 "$@" >/dev/null 2>&1 &
  done
  wait
}
declare -a one1 one2 two after
for i in $(seq "$reps"); do
  "$bin" run "${common[@]}" --out "$work/a$i" train.batch_size=256 run.threads=1 >/dev/null 2>&1; one1+=("$(rate "$work/a$i")")
  "$bin" run "${common[@]}" --out "$work/b$i" train.batch_size=256 run.threads=2 >/dev/null 2>&1; one2+=("$(rate "$work/b$i")")
  two_ranks "$work/c$i"; two+=("$(rate "$work/c$i")")
  two_ranks "$work/d$i" run.overlap_reduce=false; after+=("$(rate "$work/d$i")")
done
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), BLAS: $(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p'); host: $bin"
python3 - "${one1[*]}" "${one2[*]}" "${two[*]}" "${after[*]}" <<'PY'
import statistics, sys
a, b, c, d = ([float(x) for x in s.split()] for s in sys.argv[1:])
m = [statistics.median(x) for x in (a, b, c, d)]
print(f"1 rank  x 1 thread                     : {m[0]:8.0f} samples/s")
print(f"1 rank  x 2 threads                    : {m[1]:8.0f} samples/s")
print(f"2 ranks x 1 thread, reduce during backward: {m[2]:8.0f} samples/s")
print(f"2 ranks x 1 thread, reduce after backward : {m[3]:8.0f} samples/s")
print(f"2 ranks vs 1 rank x 1 thread: {m[2]/m[0]:.2f}x (scaling efficiency {m[2]/m[0]/2:.0%}); vs 1 rank x 2 threads: {m[2]/m[1]:.2f}x")
r = sorted(x / y for x, y in zip(c, d))
print(f"overlap vs after backward, paired ratios: median {statistics.median(r):.3f}, range {r[0]:.3f}-{r[-1]:.3f} ({len(r)} pairs)")
PY
