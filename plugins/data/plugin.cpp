// The data plugin's entry point.
#include "mmdebias/sdk/plugin.hpp"
#include "register.hpp"

namespace {

void register_data(mmdebias::sdk::Registrar& r) {
  mmdebias::data_plugin::register_fashion_captions(r);
  mmdebias::data_plugin::register_av_digits(r);
  mmdebias::data_plugin::register_files(r);
}

}  // namespace

MMDEBIAS_PLUGIN("data", "0.1.0", "Datasets of real signals with controllable bias (fashion_captions, av_digits) and users' own arrays (files)",
                register_data)
