// The media plugin's entry point: datasets decoded from the files researchers keep.
#include "mmdebias/sdk/plugin.hpp"
#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::media_plugin {
void register_clips(sdk::Registrar& r);
}

namespace {
void register_media(mmdebias::sdk::Registrar& r) { mmdebias::media_plugin::register_clips(r); }
}  // namespace

MMDEBIAS_PLUGIN("media", "0.1.0", "Datasets decoded from files on disk: audio, frame folders and images listed by an index (clips)",
                register_media)
