# Manifests that are too big, half-written or out of range are refused (exit 2) with the file, line or key
# and the reason, fast and in bounded memory: a 1 MB manifest, 20,000 unknown keys (50 errors printed and a
# count), an unclosed quote (which yaml-cpp would let swallow the rest of the file), infinite and NaN numbers,
# a directory, a missing or unreadable file, a model too big for memory; run.threads above the cores is
# capped, not spawned.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
base="$SRC/tests/runs/tiny.yaml"

# Too big: refused before parsing (it once took 3.8 GB at 5 MB; cli.resource_limits bounds the memory).
python3 -c 'print("mmdebias: 1\nx: [" + ",".join(["1"] * 600000) + "]")' >"$work/big.yaml"
run validate "$work/big.yaml"
expect_code 2
expect_err "$work/big.yaml: 1200017 bytes, more than a manifest may hold (256 KiB)"

# Many errors: the first 50, then how many more.
python3 -c 'print("mmdebias: 1"); [print(f"k{i}: 1") for i in range(20000)]' >"$work/keys.yaml"
run validate "$work/keys.yaml"
expect_code 2
expect_err "... and "
expect_err " more errors ("
[[ $(wc -l <"$err") -le 52 ]] || fail "$(wc -l <"$err") lines of errors printed for 20000 unknown keys"

# An unclosed quote: refused at its line and column (it used to swallow the keys after it; the seed became 0).
grep -v '^run:\|^  seed\|^  name\|^  threads' "$base" >"$work/quote.yaml"
printf 'run:\n  threads: 1\n  name: "abc\n  seed: 3\n' >>"$work/quote.yaml"
line=$(grep -n 'name: "abc' "$work/quote.yaml" | cut -d: -f1)
run validate "$work/quote.yaml"
expect_code 2
expect_err "$work/quote.yaml:$line:9: the quoted value that starts here has no closing \": it runs to the end of the file"
sed -i "s/name: \"abc/name: 'it''s/" "$work/quote.yaml"
run validate "$work/quote.yaml"
expect_code 2
expect_err "$work/quote.yaml:$line:9: the quoted value that starts here has no closing '"
sed -i "s/name: 'it''s/name: 'it''s'/" "$work/quote.yaml"
run validate "$work/quote.yaml"
expect_code 0  # closed, with '' inside: fine
expect_out "seed: 3"

# Numbers that are not finite, with the key.
for v in .inf -.inf .nan 1e400; do
  run validate "$base" train.lr=$v
  expect_code 2
  expect_err "train.lr: expected float, got '$v' (not a finite number)"
done
sed 's/lr: 0.05/lr: 1e400/' "$base" >"$work/inf.yaml"
run validate "$work/inf.yaml"
expect_code 2
expect_err "$work/inf.yaml:$(grep -n 'lr: 1e400' "$work/inf.yaml" | cut -d: -f1):7: train.lr: expected float, got '1e400' (not a finite number)"
run validate "$base" 'model.encoders.m0.hidden=[32, 1e999]'
expect_code 2
expect_err "but element 1 is '1e999' (not a finite number)"

# Not a manifest file: a directory, a missing file, an unreadable one (as nobody when root).
run validate "$work"
expect_code 2
expect_err "$work: is a directory; give the manifest file (a .yaml file) instead"
run validate "$work/absent.yaml"
expect_code 2
expect_err "$work/absent.yaml: no such manifest file"
cp "$base" "$work/secret.yaml" && chmod 000 "$work/secret.yaml" && chmod 755 "$work"
if [[ $(id -u) -eq 0 ]]; then
  setpriv --reuid=65534 --regid=65534 --clear-groups -- env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=stderr" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=stderr" "$MMDEBIAS" validate "$work/secret.yaml" >"$out" 2>"$err"
  code=$?
else
  run validate "$work/secret.yaml"
fi
expect_code 2
expect_err "$work/secret.yaml: cannot read the manifest: Permission denied"

# A model that cannot fit: refused at its first tensor too big for training, before allocating it, located
# at its component (it used to allocate and initialise for minutes, or be killed).
run validate "$base" 'model.encoders.m0.hidden=[100000000000]'
expect_code 2
expect_err "model.encoders.m0: cannot construct std.mlp: "
expect_err "its parameters need more memory than this machine has: a tensor of 2980.2 GiB"
expect_err "refused before allocating it: lower the sizes in its options"

# run.threads: a schema bound, and capped by the cores this process may use.
run validate "$base" run.threads=100000
expect_code 2
expect_err "run.threads: value 100000 is out of range [0, 4096]"
run run "$base" --out "$work/threads" run.threads=64 train.steps=2 train.eval_every=0
expect_code 0
cores=$(nproc)
expect_err "run.threads 64 is more than the $cores cores this process may use: using $cores"
expect_err "1 process(es) x $cores threads"
finish
