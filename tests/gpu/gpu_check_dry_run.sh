# scripts/gpu-check --dry-run: the GPU machine's one command, checked here without a GPU. The deps folder comes from
# $GPU_DEPS, else the source tree's third_party/debs/, else scripts/gpu-deps downloads it into the build folder (apt;
# kept there for the next run). The dry run must unpack it, configure against the private prefix with the tests'
# PyTorch 2.x (every package from the prefix, through scripts/gpu-check.cmake's CUDA shim: no nvcc needed), print
# every GPU step's command, and render the GPU section into a copy of docs/benchmarks.md without touching the page.
# Exit 77 (skipped) only when no deps folder can be had (no apt or no network), said loudly.
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT

deps=${GPU_DEPS:-}
if [[ -z $deps ]]; then
  if [[ -f $SRC/third_party/debs/FILES ]]; then
    deps=$SRC/third_party/debs
  else
    deps=$BUILD/gpu-deps
    if [[ ! -f $deps/FILES ]] && ! "$SRC/scripts/gpu-deps" "$deps" >"$work/gpu-deps.log" 2>&1; then
      cat "$work/gpu-deps.log"
      echo "SKIPPED: NO DEPS FOLDER: scripts/gpu-deps could not download the .deb files (no apt or no network), and" \
        "neither \$GPU_DEPS nor $SRC/third_party/debs holds them: scripts/gpu-check --dry-run was NOT checked"
      exit 77
    fi
  fi
fi
echo "deps: $deps ($(du -sh "$deps" | cut -f1))"

before=$(sha256sum "$SRC/docs/benchmarks.md")
start=$SECONDS
"$SRC/scripts/gpu-check" --dry-run --cuda shim --deps "$deps" --build "$work/build" --python "$PYTHON" >"$out" 2>"$err"
code=$?
echo "dry run: exit $code in $((SECONDS - start)) s"
expect_code 0
expect_out "DRY RUN"
expect_out "step unpack"
expect_out "every package from the private prefix"
expect_out "CUDA for the build: shim"
# Every GPU step's command is printed.
expect_out "bin/mmdebias demo --out"
expect_out "run.device=cuda run.deterministic=true train.epochs=64"
expect_out "SIGKILL at step"
expect_out "mmdebias run --resume"
expect_out "torch.distributed.run --nproc_per_node 2"
expect_out "run.backend=nccl"
expect_out "run.prefetch=4 run.device=cuda"
expect_out "bench/run --build $work/build --device cuda --only 1-3"
# The configure used the prefix: its Boost, yaml-cpp, TBB, spdlog, OpenSSL and zlib, not the machine's.
for v in Boost_DIR yaml-cpp_DIR TBB_DIR spdlog_DIR OPENSSL_CRYPTO_LIBRARY ZLIB_LIBRARY_RELEASE; do
  grep -q "^$v:[A-Z]*=$work/build/deps-prefix/" "$work/build/CMakeCache.txt" || fail "$v is not from the private prefix: $(grep "^$v:" "$work/build/CMakeCache.txt")"
done
grep -q "^CMAKE_PROJECT_INCLUDE:[A-Z]*=.*scripts/gpu-check.cmake" "$work/build/CMakeCache.txt" || fail "the CUDA shim was not used"
# The rendered page: one GPU block, marked as not run on a GPU; the page itself is untouched.
page=$work/build/gpu-check/benchmarks-dry-run.md
[[ -f $page ]] || fail "no rendered page at $page"
[[ $(grep -c '^<!-- gpu-check: begin' "$page") -eq 1 && $(grep -c '^<!-- gpu-check: end' "$page") -eq 1 ]] || fail "the rendered page must hold exactly one GPU block"
grep -q "Not yet run on a GPU" "$page" || fail "the dry run's section does not say it was not run on a GPU"
grep -q "^## Where a goal is missed" "$page" || fail "the rendered page lost the rest of docs/benchmarks.md"
[[ "$(sha256sum "$SRC/docs/benchmarks.md")" == "$before" ]] || fail "the dry run changed docs/benchmarks.md"
# bench/run keeps the GPU block when it rewrites the page.
"$PYTHON" - "$page" <<'PY' || fail "bench/render.py does not keep the GPU block"
import os, sys
sys.path.insert(0, os.environ["SRC"] + "/bench")
import render
text = open(sys.argv[1]).read()
assert render.extract_gpu(text) and "Not yet run on a GPU" in render.extract_gpu(text)
PY
# Bad input is refused with exit 2; a missing deps folder is named with what to do.
"$SRC/scripts/gpu-check" --dry-run --skip nothing --python "$PYTHON" >"$out" 2>"$err"; code=$?
expect_code 2
expect_err "unknown step"
"$SRC/scripts/gpu-check" --dry-run --deps "$work/none" --build "$work/b2" --python "$PYTHON" >"$out" 2>"$err"; code=$?
expect_code 1
expect_out "run scripts/gpu-deps"
finish
