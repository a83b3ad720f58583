// data.files: a round trip from numpy (the tests' Python, MMDEBIAS_PYTHON), every malformed-file error naming the file
// and the problem, get() from several threads, get_batch() against get(), and info() reading no data before
// prepare().
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>

#include "batch_helpers.hpp"
#include "files_helpers.hpp"
#include "std_helpers.hpp"

#include <doctest/doctest.h>

using namespace stdtest;
using namespace files_test;
namespace fs = std::filesystem;

namespace {

template <class T>
std::vector<T> read_bin(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << p);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<T> v(s.size() / sizeof(T));
  std::memcpy(v.data(), s.data(), v.size() * sizeof(T));
  return v;
}

}  // namespace

TEST_CASE("data.files: round trip of arrays written by numpy") {
  const int numpy_ok = std::system(MMDEBIAS_PYTHON " -c 'import numpy' >/dev/null 2>&1");
  if (numpy_ok != 0)
    FAIL(MMDEBIAS_PYTHON " with numpy is needed to write the test dataset: install python3-numpy "
         "(apt-get install python3-numpy)");
  TempDir tmp;
  const std::string cmd = MMDEBIAS_PYTHON " " MMDEBIAS_SOURCE_DIR "/tests/python/write_files_dataset.py '" +
                          tmp.path.string() + "'";
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "failed: " << cmd);
  const fs::path root = tmp.path / "data", expected = tmp.path / "expected";

  std::map<std::string, int64_t> sizes;
  {
    std::ifstream in(expected / "sizes.txt");
    std::string split;
    int64_t n;
    while (in >> split >> n) sizes[split] = n;
  }
  REQUIRE(sizes.size() == 2);

  // The numbers info() derives: 1 + max non-OOD label, 1 + max group, 1 + max token id, over both splits.
  int64_t classes = 0, groups = 0, vocab = 0;
  for (const auto& [split, n] : sizes) {
    const auto label = read_bin<int64_t>(expected / split / "label.bin");
    const auto ood = read_bin<uint8_t>(expected / split / "ood.bin");
    for (size_t i = 0; i < label.size(); ++i)
      if (!ood[i]) classes = std::max(classes, label[i] + 1);
    for (int64_t g : read_bin<int64_t>(expected / split / "group.bin")) groups = std::max(groups, g + 1);
    for (int64_t t : read_bin<int64_t>(expected / split / "tokens.bin")) vocab = std::max(vocab, t + 1);
  }

  for (const auto& [split, n] : sizes) {
    CAPTURE(split);
    auto ds = files(root, split);
    const auto info = ds->info();
    REQUIRE(info.modalities.size() == 3);
    CHECK(info.modalities[0].name == "features");
    CHECK(info.modalities[0].kind == sdk::InputKind::Dense);
    CHECK(info.modalities[0].shape == std::vector<int64_t>{6});
    CHECK(info.modalities[1].name == "image");
    CHECK(info.modalities[1].kind == sdk::InputKind::Dense);
    CHECK(info.modalities[1].shape == std::vector<int64_t>{1, 4, 4});
    CHECK(info.modalities[2].name == "tokens");
    CHECK(info.modalities[2].kind == sdk::InputKind::Tokens);
    CHECK(info.modalities[2].shape == std::vector<int64_t>{5});
    CHECK(info.modalities[2].vocab_size == vocab);
    CHECK(info.num_classes == classes);
    CHECK(info.num_groups == groups);
    CHECK(info.splits == std::vector<std::string>{"test", "train"});
    CHECK(ds->size() == n);

    ds->prepare();
    const auto image = read_bin<float>(expected / split / "image.bin");
    const auto features = read_bin<float>(expected / split / "features.bin");
    const auto tokens = read_bin<int64_t>(expected / split / "tokens.bin");
    const auto label = read_bin<int64_t>(expected / split / "label.bin");
    const auto group = read_bin<int64_t>(expected / split / "group.bin");
    const auto ood = read_bin<uint8_t>(expected / split / "ood.bin");
    REQUIRE(static_cast<int64_t>(label.size()) == n);
    for (int64_t i = 0; i < n; ++i) {
      CAPTURE(i);
      const auto s = ds->get(i);
      const at::Tensor im = s.inputs.at("image"), fe = s.inputs.at("features"), to = s.inputs.at("tokens");
      REQUIRE((im.scalar_type() == at::kFloat));
      REQUIRE((im.sizes() == at::IntArrayRef({1, 4, 4})));
      REQUIRE((fe.scalar_type() == at::kFloat));
      REQUIRE((fe.sizes() == at::IntArrayRef({6})));
      REQUIRE((to.scalar_type() == at::kLong));
      REQUIRE((to.sizes() == at::IntArrayRef({5})));
      CHECK(std::memcmp(im.data_ptr<float>(), &image[static_cast<size_t>(i) * 16], 16 * sizeof(float)) == 0);
      CHECK(std::memcmp(fe.data_ptr<float>(), &features[static_cast<size_t>(i) * 6], 6 * sizeof(float)) == 0);
      CHECK(std::memcmp(to.data_ptr<int64_t>(), &tokens[static_cast<size_t>(i) * 5], 5 * sizeof(int64_t)) == 0);
      CHECK(s.label == label[static_cast<size_t>(i)]);
      CHECK(s.group == group[static_cast<size_t>(i)]);
      CHECK(s.environment == -1);
      CHECK(s.ood == (ood[static_cast<size_t>(i)] != 0));
    }
    CHECK(ds->fingerprint().size() == 16);
    // Same files, same fingerprint; the two splits differ.
    auto again = files(root, split);
    again->prepare();
    CHECK(again->fingerprint() == ds->fingerprint());
  }
  auto train = files(root, "train"), test = files(root, "test");
  train->prepare();
  test->prepare();
  CHECK(train->fingerprint() != test->fingerprint());

  // Options: a chosen modality order, given vocabulary and class count.
  auto chosen = files(root, "train", {{"modalities", std::vector<std::string>{"tokens", "image"}},
                                      {"vocab_sizes", std::vector<std::string>{"tokens=100"}},
                                      {"num_classes", int64_t{7}}});
  const auto info = chosen->info();
  REQUIRE(info.modalities.size() == 2);
  CHECK(info.modalities[0].name == "tokens");
  CHECK(info.modalities[0].vocab_size == 100);
  CHECK(info.modalities[1].name == "image");
  CHECK(info.num_classes == 7);
  chosen->prepare();
  CHECK(chosen->fingerprint() != train->fingerprint());
}

TEST_CASE("data.files: malformed files give errors naming the file and the problem") {
  TempDir tmp;
  const fs::path root = tmp.path;
  const std::vector<float> x12(12, 1.0f);
  const std::vector<int64_t> y4 = {0, 1, 0, 1};

  SUBCASE("bad magic") {
    write_simple(root, "train", 4);
    write_file(root / "train" / "x.npy", "PK\x03\x04 this is a zip, not a .npy");
    const auto e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, (root / "train" / "x.npy").string()));
    CHECK(contains(e, "bad magic"));
  }
  SUBCASE("truncated header") {
    write_simple(root, "train", 4);
    std::string b = npy_bytes("<f4", "(4, 3)", raw(x12));
    write_file(root / "train" / "x.npy", b.substr(0, 30));
    const auto e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, (root / "train" / "x.npy").string()));
    CHECK(contains(e, "truncated header"));
  }
  SUBCASE("truncated data") {
    // Refused when the dataset is built (from the file's size: `mmdebias validate` sees it), and again by prepare()
    // when the file was cut after that.
    write_simple(root, "train", 4);
    std::string b = npy_bytes("<f4", "(4, 3)", raw(x12));
    write_file(root / "train" / "x.npy", b.substr(0, b.size() - 5));
    auto e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, (root / "train" / "x.npy").string()));
    CHECK(contains(e, "truncated data"));
    write_file(root / "train" / "x.npy", b);
    auto ds = files(root, "train");
    write_file(root / "train" / "x.npy", b.substr(0, b.size() - 5));
    e = must_fail([&] { ds->prepare(); });
    CHECK(contains(e, (root / "train" / "x.npy").string()));
    CHECK(contains(e, "truncated data"));
  }
  SUBCASE("unsupported dtype, big-endian, Fortran order") {
    write_simple(root, "train", 4);
    const fs::path p = root / "train" / "x.npy";
    write_file(p, npy_bytes("<c8", "(4, 3)", raw(x12) + raw(x12)));
    auto e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, p.string()));
    CHECK(contains(e, "unsupported dtype '<c8'"));
    write_file(p, npy_bytes(">f4", "(4, 3)", raw(x12)));
    e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, p.string()));
    CHECK(contains(e, "big-endian"));
    write_file(p, npy_bytes("<f4", "(4, 3)", raw(x12), /*fortran=*/true));
    e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, p.string()));
    CHECK(contains(e, "fortran_order"));
  }
  SUBCASE("mismatched N between the files of a split") {
    write_simple(root, "train", 4);
    write_file(root / "train" / "label.npy", npy_bytes("<i8", "(3,)", raw(std::vector<int64_t>{0, 1, 0})));
    const auto e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, (root / "train" / "x.npy").string()));
    CHECK(contains(e, (root / "train" / "label.npy").string()));
    CHECK(contains(e, "4 rows"));
    CHECK(contains(e, "has 3"));
  }
  SUBCASE("a label outside [0, num_classes)") {
    write_simple(root, "train", 4);
    write_file(root / "train" / "label.npy", npy_bytes("<i8", "(4,)", raw(std::vector<int64_t>{0, 1, 0, 5})));
    // Found by info() (what `mmdebias validate` calls), and by prepare() when info() was not called first.
    auto ds = files(root, "train", {{"num_classes", int64_t{2}}});
    const auto e = must_fail([&] { ds->info(); });
    CHECK(contains(e, (root / "train" / "label.npy").string()));
    CHECK(contains(e, "row 3"));
    CHECK(contains(e, "label 5"));
    CHECK(must_fail([&] { files(root, "train", {{"num_classes", int64_t{2}}})->prepare(); }) == e);
    // A negative label in a row not flagged OOD is refused too, even with num_classes derived.
    write_file(root / "train" / "label.npy", npy_bytes("<i8", "(4,)", raw(std::vector<int64_t>{0, 1, -1, 1})));
    CHECK(contains(must_fail([&] { files(root, "train")->prepare(); }), "row 2"));
    // ...but accepted when ood.npy flags the row.
    write_file(root / "train" / "ood.npy", npy_bytes("|b1", "(4,)", std::string("\0\0\1\0", 4)));
    auto ok = files(root, "train");
    ok->prepare();
    CHECK(ok->get(2).ood);
    CHECK(ok->get(2).label == -1);
  }
  SUBCASE("a missing label.npy") {
    write_simple(root, "train", 4);
    fs::remove(root / "train" / "label.npy");
    const auto e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, (root / "train" / "label.npy").string()));
    CHECK(contains(e, "missing"));
  }
  SUBCASE("an unknown split and a float label column") {
    write_simple(root, "train", 4);
    CHECK(contains(must_fail([&] { files(root, "test"); }), "no split 'test'"));
    write_file(root / "train" / "label.npy", npy_bytes("<f4", "(4,)", raw(std::vector<float>{0, 1, 0, 1})));
    const auto e = must_fail([&] { files(root, "train"); });
    CHECK(contains(e, (root / "train" / "label.npy").string()));
    CHECK(contains(e, "integer"));
  }
}

TEST_CASE("data.files: get() from 4 threads equals sequential reads") {
  TempDir tmp;
  write_simple(tmp.path, "train", 500);
  auto ds = files(tmp.path, "train");
  ds->prepare();
  const int64_t n = ds->size();
  REQUIRE(n == 500);
  std::vector<sdk::Sample> seq;
  for (int64_t i = 0; i < n; ++i) seq.push_back(ds->get(i));
  CHECK(seq[7].inputs.at("x")[2].item<float>() == 72.0f);
  std::vector<std::vector<sdk::Sample>> par(4, std::vector<sdk::Sample>(static_cast<size_t>(n)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = (k * 7 + t * 131) % n;  // each thread in its own order
        par[static_cast<size_t>(t)][static_cast<size_t>(i)] = ds->get(i);
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t)
    for (int64_t i = 0; i < n; ++i) {
      const auto& a = par[static_cast<size_t>(t)][static_cast<size_t>(i)];
      const auto& b = seq[static_cast<size_t>(i)];
      REQUIRE(a.inputs.at("x").defined());
      CHECK(at::equal(a.inputs.at("x"), b.inputs.at("x")));
      CHECK(a.label == b.label);
    }
}

TEST_CASE("data.files: get_batch equals collated get() (conversions, columns, bad token ids)") {
  TempDir tmp;
  const int64_t n = 40;
  std::vector<double> x;
  std::vector<int32_t> tok;
  std::vector<int64_t> label, group, env;
  std::string ood;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) x.push_back(i * 0.1 - k / 3.0);  // f8 rounds to f4 as get() rounds it
    for (int k = 0; k < 3; ++k) tok.push_back(static_cast<int32_t>((i + k) % 9));
    label.push_back(i % 3);
    group.push_back(i % 4 - 1);
    env.push_back(i % 2);
    ood.push_back(static_cast<char>(i % 5 == 0));
  }
  const std::string rows = "(" + std::to_string(n) + ",";
  write_file(tmp.path / "train" / "x.npy", npy_bytes("<f8", rows + " 2, 2)", raw(x)));
  write_file(tmp.path / "train" / "tok.npy", npy_bytes("<i4", rows + " 3)", raw(tok)));
  write_file(tmp.path / "train" / "label.npy", npy_bytes("<i8", rows + ")", raw(label)));
  write_file(tmp.path / "train" / "group.npy", npy_bytes("<i8", rows + ")", raw(group)));
  write_file(tmp.path / "train" / "environment.npy", npy_bytes("<i8", rows + ")", raw(env)));
  write_file(tmp.path / "train" / "ood.npy", npy_bytes("|b1", rows + ")", ood));
  auto ds = files(tmp.path, "train");
  sdk::Batch batch;
  CHECK(contains(error_of([&] { ds->get_batch({0}, batch); }), "get_batch() called before prepare()"));
  ds->prepare();
  check_get_batch_equals_get(*ds, {39, 0, 7, 7, 12, 5, 39, 1});
  CHECK(error_of([&] { ds->get_batch({3, n}, batch); }) == error_of([&] { ds->get(n); }));
  // A token id outside the vocabulary names the same row as get() does.
  auto small = files(tmp.path, "train", {{"vocab_sizes", std::vector<std::string>{"tok=8"}}});
  small->prepare();
  const std::string e = error_of([&] { small->get_batch({0, 6, 2}, batch); });  // row 6 holds id 8
  CHECK(contains(e, "row 6 holds token id 8"));
  CHECK(e == error_of([&] { small->get(6); }));
}

TEST_CASE("data.files: info() before prepare() reads no modality data") {
  TempDir tmp;
  write_simple(tmp.path, "train", 6);
  auto ds = files(tmp.path, "train", {{"num_classes", int64_t{2}}});
  // Cut the data section of x.npy after the dataset was built: info() reads its header (and the labels) only.
  const fs::path x = tmp.path / "train" / "x.npy";
  fs::resize_file(x, fs::file_size(x) - 7);
  const auto info = ds->info();
  REQUIRE(info.modalities.size() == 1);
  CHECK(info.modalities[0].name == "x");
  CHECK(info.modalities[0].shape == std::vector<int64_t>{3});
  CHECK(info.num_classes == 2);
  CHECK(info.num_groups == 0);
  CHECK(info.splits == std::vector<std::string>{"train"});
  CHECK(ds->size() == 6);
  CHECK(contains(error_of([&] { ds->get(0); }), "before prepare()"));
  CHECK(contains(error_of([&] { ds->fingerprint(); }), "before prepare()"));
  const auto e = must_fail([&] { ds->prepare(); });
  CHECK(contains(e, "truncated data"));
  CHECK(contains(e, (tmp.path / "train").string()));
}
