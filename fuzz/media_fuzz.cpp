// Fuzzes the media plugin's readers (plugins/media): audio files through libsndfile and libsoxr, images
// through libjpeg-turbo and libpng, index files (CSV through Boost.Tokenizer, JSON lines through nlohmann-json), a
// vocabulary with a text encoded by it, pre-tokenised ids, and a sample's .npy or pickled array.
//
// Input: a first byte choosing the reader — 'A' audio (read at 22050 Hz), 'I' image, 'C' a CSV index, 'V' a vocabulary
// file (then its first line's text encoded, with and without [CLS]/[SEP]), 'T' ids text, 'N' a .npy file, 'P' a
// pickled numpy array (.pkl), anything else a JSON lines index — then the file's bytes. Expected: success, or sdk::DataError naming the file. Anything else is a
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
#include "npy_sample.hpp"
#include "text_tokens.hpp"
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
  const fs::path path = file(kind == 'A' ? ".wav" : kind == 'I' ? ".img" : kind == 'C' ? ".csv" : kind == 'P' ? ".pkl" : ".jsonl");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data) + 1, static_cast<std::streamsize>(size - 1));
  }
  try {
    if (kind == 'A') {
      media_plugin::read_audio(path, 22050);
    } else if (kind == 'I') {
      media_plugin::read_image(path);
    } else if (kind == 'C' || (kind != 'V' && kind != 'T' && kind != 'N' && kind != 'P')) {
      media_plugin::read_index(path);
    } else if (kind == 'V') {
      const media_plugin::Vocabulary vocab(path);
      const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
      vocab.encode(text.substr(0, text.find('\n')), {16, true, false});
      vocab.encode(text, {3, false, true});
    } else if (kind == 'T') {
      media_plugin::parse_ids(std::string(reinterpret_cast<const char*>(data) + 1, size - 1), 8, 1000);
    } else {  // 'N' and 'P': the path's extension picks the reader
      media_plugin::read_npy_sample(path, media_plugin::npy_shape(path));
    }
  } catch (const sdk::DataError&) {
  }
  return 0;
}
