#!/usr/bin/env bash
# A real plugin (examples/plugins/dropout) built against the other supported LibTorch (tests/foreign_torch) is refused
# before it is loaded — in `plugins`, `plugins --verify` and `validate` — naming both LibTorch versions and the rebuild;
# the same plugin built against this host's LibTorch loads. Run in both builds, it covers 1.13 -> 2.x and 2.x -> 1.13.
source "$(dirname "$0")/lib.bash"
if [[ -z ${FOREIGN_PLUGIN:-} ]]; then
  echo "skipped: no other LibTorch was configured (MMDEBIAS_OTHER_TORCH_PREFIX); scripts/setup sets it when both Debian's" \
    "libtorch-dev and .venv-torch2 (scripts/setup --torch pip) are on the machine"
  exit 77
fi
[[ -f $FOREIGN_PLUGIN ]] || { echo "FAIL: $FOREIGN_PLUGIN was not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT

host_version=$("$MMDEBIAS" plugins --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["host"]["torch"])')
case $host_version in
  1.*) ours=1 theirs=2 ;;
  *) ours=2 theirs=1 ;;
esac

# What the file itself says: it links the other LibTorch's libc10.
readelf -d "$FOREIGN_PLUGIN" | grep -q "libc10.so" || fail "the foreign plugin links no libc10"

run plugins --verify "$FOREIGN_PLUGIN"
expect_code 2
expect_err "refused $FOREIGN_PLUGIN: it was built against LibTorch $theirs."
expect_err "this host runs LibTorch $ours."
expect_err "one process cannot hold two LibTorch builds, so it was not loaded: rebuild the plugin against the host's LibTorch (configure it with -DCMAKE_PREFIX_PATH="
grep -qE "Segmentation|Aborted|core dumped|crashed" "$err" && fail "loading crashed instead of refusing"

run plugins --plugin-path "$FOREIGN_PLUGIN" --json
expect_code 2
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); p=[x for x in d["plugins"] if x["path"]==sys.argv[2]][0]; assert p["status"]!="loaded" and "LibTorch" in p.get("reason",""), p' \
  "$out" "$FOREIGN_PLUGIN" || fail "plugins --json does not show the foreign plugin refused with its reason"

# A manifest using the plugin: validate refuses it, and the refusal says why.
run validate "$SRC/examples/plugins/dropout/dropout-gaussian.yaml" --plugin-path "$FOREIGN_PLUGIN"
[[ $code -ne 0 ]] || fail "validate accepted a manifest using the foreign plugin"
expect_err "it was built against LibTorch $theirs."
expect_err "unknown intervention type 'dropout.modality' (no plugin 'dropout' is loaded)"

finish
