// data.files and faults in the user's data: files changed or cut short on disk while mapped (a clear sdk::DataError
// naming the file, never SIGBUS, also from several threads), labels that make most classes empty (a warning saying
// how to set the class count), labels too large to be class indices, and the type the host maps to exit 2.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "files_helpers.hpp"
#include "std_helpers.hpp"

#include <doctest/doctest.h>

using namespace stdtest;
using namespace files_test;
namespace fs = std::filesystem;

namespace {

/// x.npy of write_simple(root, split, n) with other values, the same size: what np.save of a same-shape array does.
std::string other_x(int64_t n) {
  return npy_bytes("<f4", "(" + std::to_string(n) + ", 3)", raw(std::vector<float>(static_cast<size_t>(n) * 3, -1.0f)));
}

/// What reading rows 0..n-1 in one batch throws ("" when nothing).
std::string batch_error(const sdk::Dataset& ds, int64_t n) {
  std::vector<int64_t> all;
  for (int64_t i = 0; i < n; ++i) all.push_back(i);
  sdk::Batch batch;
  return error_of([&] { ds.get_batch(all, batch); });
}

}  // namespace

TEST_CASE("data.files: a file changed on disk while mapped is named, the process survives") {
  TempDir tmp;
  const int64_t n = 4096;  // x.npy spans several pages, so a cut file leaves mapped pages with nothing behind them
  write_simple(tmp.path, "train", n);
  const fs::path x = tmp.path / "train" / "x.npy";
  // An hour old, as data usually is: a rewrite within the file system's timestamp tick would keep its mtime.
  fs::last_write_time(x, fs::last_write_time(x) - std::chrono::hours(1));
  auto ds = files(tmp.path, "train");
  ds->prepare();
  CHECK(batch_error(*ds, n).empty());

  SUBCASE("rewritten in place, same size (np.save of a same-shape array)") {
    write_file(x, other_x(n));  // std::ofstream truncates and writes, as np.save does
    const std::string e = batch_error(*ds, n);
    CHECK(contains(e, x.string() + " changed on disk while the run was reading it"));
    CHECK(contains(e, "rewritten in place"));
    CHECK(contains(error_of([&] { ds->get(3); }), x.string()));
  }
  SUBCASE("cut short: reads touch pages past the end (SIGBUS, caught), from 4 threads at once") {
    fs::resize_file(x, 128);
    std::vector<std::string> errors(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < errors.size(); ++t) threads.emplace_back([&, t] { errors[t] = batch_error(*ds, n); });
    for (auto& t : threads) t.join();
    for (const auto& e : errors) {
      CHECK(contains(e, x.string() + " changed on disk"));
      CHECK(contains(e, "truncated or rewritten in place"));
      CHECK(contains(e, "-> 128 bytes"));
    }
  }
  SUBCASE("replaced by another file (saved elsewhere, renamed over it)") {
    const fs::path other = tmp.path / "x.tmp";
    write_file(other, other_x(n));
    fs::rename(other, x);
    // The mapping still reads the old file (harmless), so paths are looked at only once a second.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(contains(batch_error(*ds, n), "replaced by another file"));
  }
  SUBCASE("the error is an sdk::DataError, caught by type across the plugin boundary (the host's exit 2)") {
    write_file(x, other_x(n));
    std::vector<int64_t> rows = {0, 1};
    sdk::Batch batch;
    CHECK_THROWS_AS(ds->get_batch(rows, batch), sdk::DataError);
  }
}

TEST_CASE("data.files: labels that leave most classes empty are warned of, with how to set the class count") {
  TempDir tmp;
  write_simple(tmp.path, "train", 6);  // labels 0 and 1
  write_file(tmp.path / "train" / "label.npy", npy_bytes("<i8", "(6,)", raw(std::vector<int64_t>{0, 1, 2, 0, 99, 1})));
  const auto info = files(tmp.path, "train")->info();
  CHECK(info.num_classes == 100);
  REQUIRE(info.warnings.size() == 1);
  const std::string& w = info.warnings[0];
  CHECK(contains(w, "most classes have no sample: only 4 of the 100 classes occur"));
  CHECK(contains(w, "99 in " + (tmp.path / "train" / "label.npy").string() + ": row 4"));
  CHECK(contains(w, "remap them to 0..3"));
  CHECK(contains(w, "set num_classes: 100"));
  // Said so: no warning.
  CHECK(files(tmp.path, "train", {{"num_classes", int64_t{100}}})->info().warnings.empty());
  // Dense labels: none either.
  write_simple(tmp.path, "train", 6);
  CHECK(files(tmp.path, "train")->info().warnings.empty());
}

TEST_CASE("data.files: a label too large to be a class index is refused naming label.npy, the row and the value") {
  TempDir tmp;
  write_simple(tmp.path, "train", 4);
  const fs::path label = tmp.path / "train" / "label.npy";
  write_file(label, npy_bytes("<i8", "(4,)", raw(std::vector<int64_t>{0, 1, int64_t{1} << 40, 1})));
  auto ds = files(tmp.path, "train");
  const std::string e = must_fail([&] { ds->info(); });
  CHECK(contains(e, label.string() + ": row 2 holds label 1099511627776"));
  CHECK(contains(e, "above the 1048576 classes"));
  CHECK(contains(e, "np.unique"));
  CHECK_THROWS_AS(ds->info(), sdk::DataError);
}
