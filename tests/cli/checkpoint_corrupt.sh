# A latest checkpoint that does not verify — a changed byte, truncated, no sidecar, missing, `latest`
# holding something else — is refused (exit 2) naming the file and what is wrong, with the previous good
# checkpoint offered as a command; that command continues the run to the uninterrupted run's
# params_sha256, later checkpoints set aside; `mmdebias eval --checkpoint` evaluates a named checkpoint.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }
copy() { rm -rf "$work/$1"; cp -r "$work/a" "$work/$1"; }  # a copy of the finished run (checkpoints 30 and 40)
ckpt() { echo "$work/$1/checkpoints/ckpt-0000000$2.pt"; }
offer() { echo "the previous good checkpoint is ckpt-000000030.pt (step 30): continue from it with \`mmdebias run --resume $work/$1 --checkpoint ckpt-000000030.pt\`"; }

run run "$manifest" --out "$work/a" train.steps=40
expect_code 0
reference=$(sha "$work/a")

# A changed byte: refused, the previous one offered; the offered command ends where the run ended.
copy flip
python3 - "$(ckpt flip 40)" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read()); data[len(data) // 2] ^= 0x01; open(sys.argv[1], "wb").write(data)
PY
run run --resume "$work/flip"
expect_code 2
expect_err "checkpoint $(ckpt flip 40) is corrupt or truncated: its sha256 is "
expect_err "$(offer flip)"
run run --resume "$work/flip" --checkpoint ckpt-000000030.pt
expect_code 0
[[ "$(sha "$work/flip")" == "$reference" ]] || fail "continued from the previous checkpoint, params_sha256 differs from the uninterrupted run's"
[[ -f "$work/flip/checkpoints/discarded/ckpt-000000040.pt" && -f "$work/flip/checkpoints/discarded/summary.json" ]] ||
  fail "the later checkpoint and the old summary were not set aside in checkpoints/discarded"
python3 - "$work/flip/metrics.jsonl" "$work/a/metrics.jsonl" <<'PY' || fail "metrics.jsonl after continuing from step 30 differs from the uninterrupted run's"
import json, sys
key = lambda p: [(j["type"], j["step"], j.get("loss")) for j in map(json.loads, filter(str.strip, open(p)))]
assert key(sys.argv[1]) == key(sys.argv[2]), (key(sys.argv[1]), key(sys.argv[2]))
PY
run run --resume "$work/flip"  # latest now names the rewritten step 40
expect_code 0

# Truncated.
copy short
truncate -s 1000 "$(ckpt short 40)"
run run --resume "$work/short"
expect_code 2
expect_err "checkpoint $(ckpt short 40) is corrupt or truncated"
expect_err "$(offer short)"

# No sidecar: the write never completed.
copy nosidecar
rm "$(ckpt nosidecar 40).sha256"
run run --resume "$work/nosidecar"
expect_code 2
expect_err "checkpoint $(ckpt nosidecar 40) has no ckpt-000000040.pt.sha256 beside it: it was never completed"
expect_err "$(offer nosidecar)"

# latest names a file that is gone.
copy missing
rm "$(ckpt missing 40)"
run run --resume "$work/missing"
expect_code 2
expect_err "checkpoint $(ckpt missing 40) does not exist ($work/missing/checkpoints/latest names it)"
expect_err "$(offer missing)"

# latest holds something else.
copy pointer
echo "nonsense" >"$work/pointer/checkpoints/latest"
run run --resume "$work/pointer"
expect_code 2
expect_err "$work/pointer/checkpoints/latest should name a checkpoint (ckpt-<step>.pt) but holds 'nonsense'"
expect_err "the previous good checkpoint is ckpt-000000040.pt (step 40)"  # the newest that verifies

# latest (or a sidecar) that is huge, binary or a symlink out of the run: refused, never read or echoed whole.
copy huge
head -c 6000000 /dev/urandom >"$work/huge/checkpoints/latest"
run run --resume "$work/huge"
expect_code 2
expect_err "$work/huge/checkpoints/latest: cannot read it: it holds 6000000 bytes where at most 4096 are expected"
[[ $(wc -c <"$err") -lt 2000 ]] || fail "a 6 MB latest was echoed: $(wc -c <"$err") bytes on stderr"
printf 'ckpt-\001\033[31m%0300d.pt' 0 >"$work/huge/checkpoints/latest"
run run --resume "$work/huge"
expect_code 2
expect_err "but holds 'ckpt-\x01\x1b[31m000"
expect_err "... (314 bytes)"
copy link
MMDEBIAS_TEST_SECRET=do-not-print-me
export MMDEBIAS_TEST_SECRET
ln -sf /proc/self/environ "$work/link/checkpoints/latest"
run run --resume "$work/link"
expect_code 2
expect_err "$work/link/checkpoints/latest: cannot read it: it is a symbolic link"
grep -q do-not-print-me "$err" && fail "the environment was echoed through a symlinked latest"
copy bigsidecar
head -c 100000 /dev/zero | tr '\0' 'f' >"$(ckpt bigsidecar 40).sha256"
run run --resume "$work/bigsidecar"
expect_code 2
expect_err "checkpoint $(ckpt bigsidecar 40) cannot be verified: $(ckpt bigsidecar 40).sha256: cannot read it: it holds 100000 bytes"
expect_err "$(offer bigsidecar)"

# Nothing verifies.
copy none
truncate -s 10 "$(ckpt none 40)" "$(ckpt none 30)"
run run --resume "$work/none"
expect_code 2
expect_err "no earlier checkpoint in $work/none/checkpoints verifies"

# --checkpoint: a named one that is bad, one that does not exist, and without --resume.
run run --resume "$work/none" --checkpoint ckpt-000000030.pt
expect_code 2
expect_err "checkpoint $(ckpt none 30) is corrupt or truncated"
run run --resume "$work/a" --checkpoint ckpt-000000020.pt
expect_code 2
expect_err "checkpoint $(ckpt a 20) does not exist"
run run "$manifest" --out "$work/x" --checkpoint ckpt-000000030.pt
expect_code 2
expect_err "--checkpoint goes with --resume DIR"

# eval: the same refusal and offer; --checkpoint evaluates the named one.
run eval "$work/short"
expect_code 2
expect_err "the previous good checkpoint is ckpt-000000030.pt (step 30): continue from it with \`mmdebias eval $work/short --checkpoint ckpt-000000030.pt\`"
run eval "$work/short" --checkpoint ckpt-000000030.pt --json
expect_code 0
python3 - "$out" "$(ckpt short 30)" <<'PY' || fail "eval --checkpoint did not evaluate the named checkpoint"
import json, sys
result = json.load(open(sys.argv[1]))
assert result["checkpoint"] == sys.argv[2] and result["step"] == 30, (result["checkpoint"], result["step"])
PY
finish
