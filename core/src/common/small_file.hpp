// Reading the small text files a run keeps (checkpoints/latest, sha256 sidecars, reports' inputs), with a
// bound: a hostile or corrupt file must not be read whole or echoed whole into a message.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace mmdebias::core {

/// At most max_bytes of a regular file, not following a final symlink. Throws InputError naming the file
/// when it is missing, not a regular file (a symlink, a FIFO, /proc...), unreadable or longer than max_bytes.
std::string read_small_file(const std::filesystem::path& file, size_t max_bytes);

/// The whole file as bytes; throws InputError naming the file (and the system's reason) when it cannot be read.
std::string read_text_file(const std::filesystem::path& file);

}  // namespace mmdebias::core
