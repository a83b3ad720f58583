# Limits of the machine: under an address-space limit (ulimit -v) too small for LibTorch and OpenBLAS, the
# host exits 2 at once saying so (OpenBLAS used to loop forever while loading, deaf to SIGTERM); at the
# floor it names, a small run completes. A 1 MB manifest is refused in the memory of an empty run.
# Not run under ASan (scripts/sanitize says why): its shadow memory needs terabytes of address space.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
cores=$(getconf _NPROCESSORS_ONLN)
floor_mib=$((1024 + 128 * cores))

(ulimit -v 700000; exec timeout -s KILL 60 "$MMDEBIAS" --version) >"$out" 2>"$err"; code=$?
expect_code 2
expect_err "mmdebias: the address-space limit (ulimit -v) is 683 MiB, below the $floor_mib MiB this machine needs (1024 MiB + 128 MiB per core, $cores cores)"
(ulimit -v $((floor_mib * 1024)); exec timeout -s KILL 300 "$MMDEBIAS" run "$SRC/tests/runs/tiny.yaml" --out "$work/floor" train.steps=20 \
  run.threads=0) >"$out" 2>"$err"; code=$?
expect_code 0
expect_err "done: $work/floor/summary.json"

python3 -c 'print("mmdebias: 1\nx: [" + ",".join(["1"] * 600000) + "]")' >"$work/big.yaml"
/usr/bin/time -f "%M" -o "$work/rss" "$MMDEBIAS" validate "$work/big.yaml" >"$out" 2>"$err"; code=$?
expect_code 2
expect_err "more than a manifest may hold (256 KiB)"
[[ $(tail -n 1 "$work/rss") -lt 600000 ]] || fail "validating a 1 MB manifest took $(tail -n 1 "$work/rss") KB"
finish
