// run.device and run.backend (run/device.cpp): cuda is the local rank's GPU, cuda:N is GPU N, and every device this
// build or machine cannot give is refused with the device, the build and what to change.
#include <doctest/doctest.h>

#include <string>

#include "mmdebias/core/errors.hpp"
#include "run/device.hpp"

namespace {

using mmdebias::core::DistributedConfig;
using mmdebias::core::InputError;
using mmdebias::core::resolve_backend;
using mmdebias::core::resolve_device;

DistributedConfig rank(int global, int local, const std::string& launcher = "torchrun/env") {
  DistributedConfig d;
  d.rank = global;
  d.world_size = 8;
  d.local_rank = local;
  d.local_world_size = 4;
  d.launcher = launcher;
  return d;
}

// The message of the InputError f throws ("" when it throws none).
template <class F>
std::string refusal(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("run.device: cpu stays, cuda takes the local rank's GPU, cuda:N takes GPU N") {
  CHECK(resolve_device("cpu", rank(5, 1), false, 0) == c10::Device(c10::kCPU));
  CHECK(resolve_device("cuda", rank(5, 1), true, 4) == c10::Device(c10::kCUDA, 1));
  CHECK(resolve_device("cuda", rank(0, 0), true, 1) == c10::Device(c10::kCUDA, 0));
  CHECK(resolve_device("cuda:3", rank(5, 1), true, 4) == c10::Device(c10::kCUDA, 3));
}

TEST_CASE("run.device: refusals name the device, the build or the rank, and what to change") {
  const std::string no_cuda = refusal([] { resolve_device("cuda", rank(0, 0), false, 0); });
  CHECK(has(no_cuda, "run.device is 'cuda'"));
  CHECK(has(no_cuda, "without CUDA"));
  CHECK(has(no_cuda, "LibTorch"));
  CHECK(has(no_cuda, "run.device=cpu"));

  const std::string no_gpu = refusal([] { resolve_device("cuda:0", rank(0, 0), true, 0); });
  CHECK(has(no_gpu, "no GPU is visible"));
  CHECK(has(no_gpu, "run.device=cpu"));

  const std::string past_local = refusal([] { resolve_device("cuda", rank(6, 2, "slurm"), true, 2); });
  CHECK(has(past_local, "rank 6, SLURM_LOCALID=2"));
  CHECK(has(past_local, "cuda:2"));
  CHECK(has(past_local, "sees 2 GPUs (cuda:0..cuda:1)"));
  CHECK(has(past_local, "--nproc_per_node"));

  const std::string past_index = refusal([] { resolve_device("cuda:4", rank(0, 0), true, 4); });
  CHECK(has(past_index, "'cuda:4' does not exist"));
  CHECK(has(past_index, "below 4"));

  CHECK(has(refusal([] { resolve_device("gpu", rank(0, 0), true, 1); }), "is not a device"));
  CHECK(has(refusal([] { resolve_device("meta", rank(0, 0), true, 1); }), "is not supported"));
}

TEST_CASE("run.backend: auto follows the device, nccl needs a GPU") {
  CHECK(resolve_backend("auto", c10::Device(c10::kCPU)) == "gloo");
  CHECK(resolve_backend("gloo", c10::Device(c10::kCPU)) == "gloo");
  CHECK(resolve_backend("gloo", c10::Device(c10::kCUDA, 0)) == "gloo");
  CHECK(has(refusal([] { resolve_backend("nccl", c10::Device(c10::kCPU)); }), "NCCL reduces between GPUs"));
  CHECK(resolve_backend("auto", c10::Device(c10::kCUDA, 0)) == (mmdebias::core::nccl_available() ? "nccl" : "gloo"));
}
