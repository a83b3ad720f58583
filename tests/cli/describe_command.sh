# `mmdebias describe` prints a component's options with defaults; an unknown name suggests the nearest.
source "$(dirname "$0")/lib.bash"
run describe std.concat
expect_code 0
expect_out "std.concat  (fusion)"
expect_out "options:"
expect_out "provides: modality_logits"
run describe std.mlp
expect_code 0
expect_out "hidden (list of int)  default: [128]"
run describe std.concatt
expect_code 2
expect_err "unknown component 'std.concatt'; did you mean 'std.concat'?"
run describe std.mlp --json
expect_code 0
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="encoder" and any(o["name"]=="hidden" for o in d["options"])' "$out" || fail "bad JSON"
finish
