// Fuzzes the checkpoint reader behind its checksum: the fuzzed bytes are written as dir/ckpt.pt with a
// matching .sha256 sidecar (so the archive parsing is reached), then read as resume reads them: the meta
// (read_checkpoint_meta), model and optimizer state (load_checkpoint) and each rank's RNG streams (unpack_rng).
//
// Expected: success, or InputError naming the file. Anything else is a finding.
// Seeds: MMDEBIAS_FUZZ_WRITE_SEEDS=DIR fuzz_checkpoint writes checkpoints of the model below with the real
// writer into DIR and exits (fuzz/corpus/checkpoint is their output).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include "run/checkpoint.hpp"
#include "mmdebias/core/errors.hpp"
#include "common/sha256.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mmdebias::core;

// A small model with parameters and buffers, and Adam (per-parameter state), as a pipeline has.
struct Setup {
  torch::nn::Sequential model{torch::nn::Linear(3, 2), torch::nn::BatchNorm1d(2)};
  torch::optim::Adam optimizer{model->parameters(), torch::optim::AdamOptions(0.01)};
};

// Name, dtype and shape of every parameter and buffer, one a line.
std::string layout(const torch::nn::Module& model) {
  std::string out;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    out += name + " " + std::string(c10::toString(t.scalar_type())) + " [";
    for (int64_t d : t.sizes()) out += std::to_string(d) + ",";
    out += "]\n";
  };
  for (const auto& p : model.named_parameters()) add(p.key(), p.value());
  for (const auto& b : model.named_buffers()) add(b.key(), b.value());
  return out;
}

const fs::path& work_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("mmdebias-fuzz-ckpt-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

void write_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  torch::manual_seed(0);
  Setup s;
  s.model->train();
  auto loss = s.model->forward(torch::ones({4, 3})).sum();
  loss.backward();
  s.optimizer.step();
  std::map<std::string, at::Tensor> rng{{"default", at::detail::getDefaultCPUGenerator().get_state()}};
  for (int ranks : {0, 1, 2}) {
    CheckpointMeta meta;
    meta.position = {5, 1, 2, 40};
    meta.resolved_manifest = "mmdebias: 1\ntrain: {epochs: 1}\n";
    for (int r = 0; r < ranks; ++r) meta.rng_by_rank.push_back(pack_rng(rng));
    fs::path tmp = work_dir() / "seed";
    fs::path file = save_checkpoint(tmp, *s.model, s.optimizer, meta, 1);
    fs::copy_file(file, dir / ("ckpt-ranks" + std::to_string(ranks) + ".pt"), fs::copy_options::overwrite_existing);
    fs::remove_all(tmp);
  }
}

// A checkpoint of the same kinds of modules with other widths (Linear(3, 5)): tests/fuzz-regressions/checkpoint.
void write_other_shape(const fs::path& file) {
  torch::nn::Sequential model{torch::nn::Linear(3, 5), torch::nn::BatchNorm1d(5)};
  torch::optim::Adam optimizer{model->parameters(), torch::optim::AdamOptions(0.01)};
  CheckpointMeta meta;
  fs::path written = save_checkpoint(work_dir() / "other", *model, optimizer, meta, 1);
  fs::copy_file(written, file, fs::copy_options::overwrite_existing);
  fs::remove_all(work_dir() / "other");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* seeds = std::getenv("MMDEBIAS_FUZZ_WRITE_SEEDS")) {
    write_seeds(seeds);
    std::exit(0);
  }
  if (const char* file = std::getenv("MMDEBIAS_FUZZ_WRITE_OTHER_SHAPE")) {
    write_other_shape(file);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path file = work_dir() / "ckpt.pt";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    std::ofstream sidecar(file.string() + ".sha256", std::ios::trunc);
    sidecar << sha256_bytes(data, size) << "\n";
  }
  try {
    CheckpointMeta meta = read_checkpoint_meta(file);
    Setup s;
    const std::string before = layout(*s.model);
    meta = load_checkpoint(file, *s.model, s.optimizer);
    for (const auto& blob : meta.rng_by_rank) unpack_rng(blob);
    // A checkpoint that loads must leave the model as it was built: the same tensors, shapes and dtypes.
    if (layout(*s.model) != before) {
      std::fprintf(stderr, "fuzz_checkpoint: load_checkpoint changed the model's layout:\n%s---\n%s", before.c_str(),
                   layout(*s.model).c_str());
      std::abort();
    }
  } catch (const InputError&) {
  }
  return 0;
}
