# Every built plugin exports exactly one symbol of ours: the entry point.
source "$(dirname "$0")/lib.bash"
shopt -s nullglob
plugins=("$BUILD"/lib/mmdebias/plugins/mmdebias-*.so "$FIXTURES"/*/mmdebias-*.so)
[[ ${#plugins[@]} -ge 2 ]] || fail "no plugins found under $BUILD"
for so in "${plugins[@]}"; do
  symbols=$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u)
  [[ "$symbols" == "mmdebias_plugin_v1" ]] || fail "$so exports: $(echo $symbols)"
done
finish
