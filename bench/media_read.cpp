// mmdebias-bench-media-read: media.clips through the host's own DataLoader (a TBB arena of --threads reading the
// samples of a batch in parallel, batches prefetched on a producer thread), as a run reads them: one training epoch
// of a CREMA-D tree (preset cremad) with --frames frames of --size pixels per clip. bench/media_loader.sh compares it
// with PyTorch's DataLoader doing the same work (bench/media_loader_torch.py).
//
//   mmdebias-bench-media-read PLUGIN_DIR ROOT [--threads 2] [--batch 64] [--frames 3] [--size 224] [--epochs 2]
//
// Prints one JSON line per epoch: samples, seconds, samples per second.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <ATen/Parallel.h>

#include "manifest/option_values.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "plugin/registry.hpp"
#include "train/data_loader.hpp"

int main(int argc, char** argv) {
  namespace sdk = mmdebias::sdk;
  namespace core = mmdebias::core;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PLUGIN_DIR ROOT [--threads N] [--batch B] [--frames T] [--size S] [--epochs E]\n", argv[0]);
    return 2;
  }
  std::map<std::string, int64_t> opt = {{"--threads", 2}, {"--batch", 64}, {"--frames", 3}, {"--size", 224}, {"--epochs", 2}};
  for (int i = 3; i + 1 < argc; i += 2) opt[argv[i]] = std::atoll(argv[i + 1]);
  at::set_num_threads(1);  // as PyTorch's DataLoader workers run (one intra-op thread each); the arena is the parallelism
  core::PluginHost host;
  core::SearchPath sp;
  sp.builtin = {argv[1]};
  host.load(sp);
  const core::ComponentEntry& entry = host.registry().get("media.clips");
  sdk::BuildArgs args;
  args.name = "data";
  args.split = "train";
  args.options = core::complete_options(entry.decl.schema, {{"preset", std::string("cremad")}, {"root", std::string(argv[2])},
                                                            {"frame_count", opt["--frames"]}, {"image_size", opt["--size"]}});
  auto data = host.registry().make_dataset("media.clips", args);
  data->prepare();
  core::LoaderOptions lo = core::LoaderOptions::for_rank(opt["--batch"], 1, 0, 1, static_cast<int>(opt["--threads"]));
  core::DataLoader loader(data, lo);
  for (int64_t e = 0; e < opt["--epochs"]; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    loader.start_epoch(e);
    int64_t samples = 0;
    while (auto b = loader.next()) samples += b->size();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"reader\": \"mmdebias\", \"epoch\": %lld, \"samples\": %lld, \"seconds\": %.3f, \"samples_per_second\": %.1f}\n",
                static_cast<long long>(e), static_cast<long long>(samples), s, samples / s);
    std::fflush(stdout);
  }
  return 0;
}
