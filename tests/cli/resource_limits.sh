# Limits of the machine: under an address-space limit (ulimit -v) too small for LibTorch and its BLAS, the
# host exits 2 at once saying so (OpenBLAS used to loop forever while loading, deaf to SIGTERM; LibTorch 2.x crashed),
# or the loader does when even the libraries do not fit; at the floor the host names, a small run completes. A 1 MB manifest is refused in the memory of an empty run.
# Not run under ASan (scripts/sanitize says why): its shadow memory needs terabytes of address space.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
cores=$(getconf _NPROCESSORS_ONLN)

# Limits from 683 MiB up in steps of 512 MiB: each is refused at once, by the loader while the libraries do not fit
# (LibTorch 2.x's map ~2 GB) and then by the host, whose window (896 MiB and more on 2 cores) a step cannot skip.
floor_mib=""
for limit_kib in 700000 1224288 1748576 2272864 2797152 3321440 3845728 4370016; do
  (ulimit -v $limit_kib; exec timeout -s KILL 60 "$MMDEBIAS" --version) >"$out" 2>"$err"; code=$?
  if [[ $code -eq 127 ]] && grep -qF "failed to map segment" "$err"; then continue; fi
  expect_code 2
  expect_err "mmdebias: the address-space limit (ulimit -v) is $((limit_kib / 1024)) MiB, below the "
  expect_err "MiB per core, $cores cores)"
  floor_mib=$(sed -n 's/.* below the \([0-9]*\) MiB this machine needs (the \([0-9]*\) MiB its libraries map + 640 MiB + 128 MiB per core.*/\1/p' "$err")
  break
done
[[ -n $floor_mib ]] || fail "no limit up to 4267 MiB gave the host's refusal naming its floor"
# At the floor it names, a small run completes.
(ulimit -v $((${floor_mib:-0} * 1024)); exec timeout -s KILL 300 "$MMDEBIAS" run "$SRC/tests/runs/tiny.yaml" --out "$work/floor" train.steps=20 \
  run.threads=0) >"$out" 2>"$err"; code=$?
expect_code 0
expect_err "done: $work/floor/summary.json"

python3 -c 'print("mmdebias: 1\nx: [" + ",".join(["1"] * 600000) + "]")' >"$work/big.yaml"
/usr/bin/time -f "%M" -o "$work/rss" "$MMDEBIAS" validate "$work/big.yaml" >"$out" 2>"$err"; code=$?
expect_code 2
expect_err "more than a manifest may hold (256 KiB)"
[[ $(tail -n 1 "$work/rss") -lt 600000 ]] || fail "validating a 1 MB manifest took $(tail -n 1 "$work/rss") KB"
finish
