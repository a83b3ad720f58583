// Fuzzes the media plugin's readers (plugins/media): audio files through libsndfile and libsoxr, images
// through libjpeg-turbo and libpng, and index files (CSV through Boost.Tokenizer, JSON lines through nlohmann-json).
//
// Input: a first byte choosing the reader — 'A' audio (read at 22050 Hz), 'I' image, 'C' a CSV index, anything else a
// JSON lines index — then the file's bytes. Expected: success, or sdk::DataError naming the file. Anything else is a
// finding.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <ATen/ATen.h>

#include "audio_file.hpp"
#include "image_file.hpp"
#include "media_index.hpp"
#include "mmdebias/sdk/data.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mmdebias;

fs::path file(const std::string& ext) {
  return fs::temp_directory_path() / ("mmdebias-fuzz-media-" + std::to_string(::getpid()) + ext);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char kind = static_cast<char>(data[0]);
  const fs::path path = file(kind == 'A' ? ".wav" : kind == 'I' ? ".img" : kind == 'C' ? ".csv" : ".jsonl");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data) + 1, static_cast<std::streamsize>(size - 1));
  }
  try {
    if (kind == 'A') media_plugin::read_audio(path, 22050);
    else if (kind == 'I') media_plugin::read_image(path);
    else media_plugin::read_index(path);
  } catch (const sdk::DataError&) {
  }
  return 0;
}
