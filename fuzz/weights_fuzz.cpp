// Fuzzes the weight-file readers behind init: (core/src/weights): the safetensors reader and the pickle
// interpreter for torch.save's state dicts.
//
// Input: a first byte 'S' and a safetensors file, or any other first byte and a data.pkl (the pickle inside a
// torch.save archive; every storage record it names reads as 96 zero bytes). The pickle is read for the whole
// dict and for its entry "state_dict", as init.key asks. Expected: success, or InputError. Anything else is a finding.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <ATen/ATen.h>

#include "mmdebias/core/errors.hpp"
#include "weights/safetensors.hpp"
#include "weights/torch_save.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mmdebias::core;

const fs::path& file() {
  static const fs::path f = fs::temp_directory_path() / ("mmdebias-fuzz-weights-" + std::to_string(::getpid()) + ".safetensors");
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 'S') {
    {
      std::ofstream out(file(), std::ios::binary | std::ios::trunc);
      out.write(body.data(), static_cast<std::streamsize>(body.size()));
    }
    try {
      if (looks_like_safetensors(file())) read_safetensors(file());
    } catch (const InputError&) {
    }
    return 0;
  }
  const RecordReader zeros = [](const std::string&) { return at::zeros({96}, at::kByte); };
  for (const char* key : {"", "state_dict"}) {
    try {
      state_dict_from_pickle(body, zeros, key);
    } catch (const InputError&) {
    }
  }
  return 0;
}
