// Internal to the data plugin: one registration function per dataset file.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::data_plugin {

/// data.fashion_captions (fashion_captions.cpp).
void register_fashion_captions(sdk::Registrar& r);
/// data.av_digits (av_digits.cpp).
void register_av_digits(sdk::Registrar& r);
/// data.files (files_dataset.cpp).
void register_files(sdk::Registrar& r);

}  // namespace mmdebias::data_plugin
