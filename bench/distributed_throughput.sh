#!/usr/bin/env bash
# 2 ranks vs 1 rank on this machine: training samples/s of examples/default.yaml with 512-wide MLP encoders,
# global batch 256, 10 epochs; alternating A B C, median of 5. Usage: bench/distributed_throughput.sh [build/bin/mmdebias]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/mmdebias}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(examples/default.yaml train.epochs=10 'model.encoders.m0.hidden=[512,512]' 'model.encoders.m1.hidden=[512,512]')
rate() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["train"]["samples_per_s"])' "$1/summary.json"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -a one1 one2 two
for i in 1 2 3 4 5; do
  "$bin" run "${common[@]}" --out "$work/a$i" train.batch_size=256 run.threads=1 >/dev/null 2>&1; one1+=("$(rate "$work/a$i")")
  "$bin" run "${common[@]}" --out "$work/b$i" train.batch_size=256 run.threads=2 >/dev/null 2>&1; one2+=("$(rate "$work/b$i")")
  port=$(free_port)
  for r in 0 1; do
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_WORLD_SIZE=2 \
      "$bin" run "${common[@]}" --out "$work/c$i" train.batch_size=128 >/dev/null 2>&1 &
  done
  wait
  two+=("$(rate "$work/c$i")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m1=$(median "${one1[@]}"); m2=$(median "${one2[@]}"); m3=$(median "${two[@]}")
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), BLAS: $(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
printf '1 rank  x 1 thread : %8.0f samples/s\n1 rank  x 2 threads: %8.0f samples/s\n2 ranks x 1 thread : %8.0f samples/s\n' "$m1" "$m2" "$m3"
python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); print(f'2 ranks vs 1 rank x 1 thread: {c/a:.2f}x (scaling efficiency {c/a/2:.0%}); vs 1 rank x 2 threads: {c/b:.2f}x')" "$m1" "$m2" "$m3"
