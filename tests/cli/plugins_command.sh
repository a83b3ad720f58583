# `mmdebias plugins` finds the shipped std, data and method plugins with no environment variable set, as text and JSON.
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
run plugins
expect_code 0
expect_out "std 0.1.0  [loaded]"
expect_out "std.concat  (fusion)"
expect_out "std.mlp  (encoder)"
expect_out "fingerprint: SDK 1.4, LibTorch"
# Every shipped method plugin is found beside std and loads.
for plugin in data arl mcr a2d causalmm infomin tensorboard; do
  grep -qE "^$plugin [0-9.]+  \[loaded\]" "$out" || fail "shipped plugin '$plugin' is not listed as loaded"
done
expect_out "arl.reweight  (intervention)"
expect_out "a2d.knn  (scorer)"
run plugins --json
expect_code 0
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=[x for x in d["plugins"] if x["name"]=="std"][0]; assert p["status"]=="loaded" and any(c["name"]=="std.concat" for c in p["components"]), d' "$out" || fail "JSON lacks std.concat"
run plugins --bogus
expect_code 2
expect_err "unrecognised option '--bogus'"
finish
