// Helpers of the data.files tests: a temporary directory, .npy bytes written by hand, a dataset built through the
// registry, and the message of what must fail.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "std_helpers.hpp"

#include <doctest/doctest.h>

namespace files_test {

using namespace stdtest;
namespace fs = std::filesystem;

using Given = std::map<std::string, sdk::OptionValue>;

/// A fresh temporary directory, removed with the object.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("mmdebias_files_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// A data.files dataset of one split, through the registry (not prepared).
inline std::shared_ptr<sdk::Dataset> files(const fs::path& root, const std::string& split, Given given = {}) {
  given["root"] = root.string();
  sdk::BuildArgs a;
  a.name = "data";
  a.split = split;
  a.options = options("data.files", std::move(given));
  return registry().make_dataset("data.files", a);
}

/// Bytes of a .npy file: version 1.0 header for descr / shape (a Python tuple text, e.g. "(3, 4)").
inline std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& data,
                      bool fortran = false) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict + data;
}

inline void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

/// Writes DIR/<split>/x.npy (float32 [n, 3], value = row * 10 + column) and label.npy (int64 row % 2).
inline void write_simple(const fs::path& root, const std::string& split, int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) x.push_back(static_cast<float>(i * 10 + c));
    y.push_back(i % 2);
  }
  write_file(root / split / "x.npy", npy_bytes("<f4", "(" + std::to_string(n) + ", 3)", raw(x)));
  write_file(root / split / "label.npy", npy_bytes("<i8", "(" + std::to_string(n) + ",)", raw(y)));
}

/// The message of what fn throws, which must be something.
inline std::string must_fail(const std::function<void()>& fn) {
  std::string e = error_of(fn);
  REQUIRE_MESSAGE(!e.empty(), "expected an error");
  return e;
}

}  // namespace files_test
