# A plugin built against another SDK ABI major is refused in one line naming the file and both versions; exit 2.
source "$(dirname "$0")/lib.bash"
file="$FIXTURES/fixture_abi_major/mmdebias-fixture_abi_major.so"
run plugins --plugin-path "$file"
expect_code 2
expect_out "reason:      refused $file (plugin 'fixture_abi_major'): built against SDK ABI 2.4, this host has SDK ABI 1.4; rebuild the plugin against SDK 1.x"
expect_err "refused $file"
[[ $(wc -l <"$err") -eq 1 ]] || fail "the refusal is not one line"
MMDEBIAS_PLUGIN_PATH="$FIXTURES/fixture_cxx11" run plugins
expect_code 2
expect_out "_GLIBCXX_USE_CXX11_ABI"
finish
