// mmdebias-bench-files-read: the read path of data.files alone — prepare(), then get_batch() of random batches — in
// a plugin binary loaded as the host loads it (dlopen, then its registration function), so that two builds of the
// data plugin compare on the same files with the same command. LibTorch and the SDK headers only.
//
//   mmdebias-bench-files-read PLUGIN.so ROOT [--batch 64] [--batches 20000] [--seed 1] [--read-into-memory]
//
// Prints one JSON line: prepare seconds, microseconds per batch and rows per second (best of 5 rounds, each over
// every batch), and the process's resident memory split into file-backed pages (the mappings) and anonymous ones.
// --read-into-memory also times what reading the split's files into memory instead would cost (the alternative to
// mapping them): seconds and the anonymous memory it adds.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "mmdebias/sdk/abi.hpp"
#include "mmdebias/sdk/registrar.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace sdk = mmdebias::sdk;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Keeps the dataset factories a plugin registers; ignores every other kind.
class DatasetsOnly : public sdk::Registrar {
 public:
  std::map<std::string, std::pair<sdk::ComponentDecl, sdk::DatasetFactory>> datasets;
  void add_dataset(sdk::ComponentDecl decl, sdk::DatasetFactory make) override {
    datasets[decl.name] = {decl, std::move(make)};
  }
  void add_encoder(sdk::ComponentDecl, sdk::EncoderFactory) override {}
  void add_fusion(sdk::ComponentDecl, sdk::FusionFactory) override {}
  void add_bias_estimator(sdk::ComponentDecl, sdk::BiasEstimatorFactory) override {}
  void add_intervention(sdk::ComponentDecl, sdk::InterventionFactory) override {}
  void add_scorer(sdk::ComponentDecl, sdk::ScorerFactory) override {}
  void add_sink(sdk::ComponentDecl, sdk::SinkFactory) override {}
};

/// The process's resident memory of one kind (RssFile, RssAnon) in MiB, from /proc/self/status.
double rss_mib(const std::string& kind) {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    double kib = 0;
    if (key == kind + ":" && in >> kib) return kib / 1024;
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

/// data.files on root, split train, every option at its default but root.
std::shared_ptr<sdk::Dataset> files_dataset(const std::string& plugin, const std::string& root) {
  void* lib = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) throw std::runtime_error(dlerror());
  auto entry = reinterpret_cast<mmdebias_plugin_entry_fn>(dlsym(lib, "mmdebias_plugin_v1"));
  if (!entry) throw std::runtime_error(plugin + ": no mmdebias_plugin_v1");
  DatasetsOnly registrar;
  char error[512] = {};
  if (entry()->register_components(&registrar, error, sizeof error) != 0) throw std::runtime_error(error);
  auto it = registrar.datasets.find("files");
  if (it == registrar.datasets.end()) throw std::runtime_error(plugin + " has no dataset 'files'");
  std::map<std::string, sdk::OptionValue> values;
  for (const auto& spec : it->second.first.schema.specs())
    if (spec.value) values[spec.name] = *spec.value;
  values["root"] = root;
  sdk::BuildArgs args;
  args.name = "data";
  args.split = "train";
  args.options = sdk::Options(values);
  return it->second.second(args);
}

/// Seconds to read every .npy of ROOT/train into memory, and the anonymous memory that adds (MiB).
std::pair<double, double> read_into_memory(const std::string& root) {
  const double before = rss_mib("RssAnon");
  const auto t0 = Clock::now();
  std::vector<std::vector<char>> held;
  for (const auto& e : fs::directory_iterator(fs::path(root) / "train")) {
    if (e.path().extension() != ".npy") continue;
    std::ifstream in(e.path(), std::ios::binary);
    held.emplace_back(fs::file_size(e.path()));
    in.read(held.back().data(), static_cast<std::streamsize>(held.back().size()));
  }
  return {seconds_since(t0), rss_mib("RssAnon") - before};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PLUGIN.so ROOT [--batch 64] [--batches 20000] [--seed 1] [--read-into-memory]\n", argv[0]);
    return 2;
  }
  int64_t batch = 64, batches = 20000;
  uint64_t seed = 1;
  bool in_memory = false;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--read-into-memory") in_memory = true;
    else if (i + 1 < argc && a == "--batch") batch = std::atoll(argv[++i]);
    else if (i + 1 < argc && a == "--batches") batches = std::atoll(argv[++i]);
    else if (i + 1 < argc && a == "--seed") seed = std::strtoull(argv[++i], nullptr, 10);
    else { std::fprintf(stderr, "unknown argument %s\n", a.c_str()); return 2; }
  }
  try {
    std::shared_ptr<sdk::Dataset> ds = files_dataset(argv[1], argv[2]);
    const auto t0 = Clock::now();
    ds->prepare();
    const double prepare_s = seconds_since(t0);
    std::mt19937_64 gen(seed);
    std::uniform_int_distribution<int64_t> row(0, ds->size() - 1);
    std::vector<std::vector<int64_t>> plan(static_cast<size_t>(batches), std::vector<int64_t>(static_cast<size_t>(batch)));
    for (auto& b : plan) for (auto& i : b) i = row(gen);
    double best = 1e300;
    for (int round = 0; round < 5; ++round) {
      const auto r0 = Clock::now();
      for (const auto& b : plan) {
        sdk::Batch out;
        ds->get_batch(b, out);
      }
      best = std::min(best, seconds_since(r0));
    }
    std::printf("{\"plugin\": \"%s\", \"rows\": %lld, \"batch\": %lld, \"batches\": %lld, \"prepare_s\": %.3f, "
                "\"us_per_batch\": %.2f, \"rows_per_s\": %.0f, \"rss_file_mib\": %.1f, \"rss_anon_mib\": %.1f",
                argv[1], static_cast<long long>(ds->size()), static_cast<long long>(batch), static_cast<long long>(batches),
                prepare_s, best / static_cast<double>(batches) * 1e6, static_cast<double>(batch * batches) / best,
                rss_mib("RssFile"), rss_mib("RssAnon"));
    if (in_memory) {
      const auto [s, mib] = read_into_memory(argv[2]);
      std::printf(", \"read_into_memory_s\": %.3f, \"read_into_memory_anon_mib\": %.1f", s, mib);
    }
    std::printf("}\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
