#include "run/device.hpp"

#include <cstdlib>

#include <ATen/Context.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/version.h>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

const std::string kBuild = "this mmdebias is built against LibTorch " TORCH_VERSION;

// Whether the LibTorch in this process can drive a GPU at all: its CUDA part registers a device guard when loaded.
bool build_has_cuda() { return c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA); }

int visible_gpus() { return build_has_cuda() ? c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->deviceCount() : 0; }

std::string visible_devices_text() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? " (CUDA_VISIBLE_DEVICES='" + std::string(v) + "')" : "";
}

// How the launcher named this process's local rank, for the error that says its GPU does not exist.
std::string local_rank_text(const DistributedConfig& dist) {
  const char* var = dist.launcher == "slurm" ? "SLURM_LOCALID" : "LOCAL_RANK";
  return "rank " + std::to_string(dist.rank) + ", " + var + "=" + std::to_string(dist.local_rank);
}

}  // namespace

c10::Device resolve_device(const std::string& text, const DistributedConfig& dist) {
  return resolve_device(text, dist, build_has_cuda(), visible_gpus());
}

c10::Device resolve_device(const std::string& text, const DistributedConfig& dist, bool has_cuda, int gpus) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(text);
  } catch (const c10::Error&) {
    throw InputError("run.device: '" + text + "' is not a device (cpu, cuda, cuda:1)");
  }
  if (device.is_cpu()) return device;
  if (!device.is_cuda())
    throw InputError("run.device: '" + text + "' is not supported (cpu, cuda, cuda:N)");
  if (!has_cuda)
    throw InputError("run.device is '" + text + "' but " + kBuild + " without CUDA: set run.device=cpu, or build against "
                     "a CUDA-enabled LibTorch (scripts/setup --torch pip, or -DCMAKE_PREFIX_PATH=<a CUDA PyTorch's "
                     "torch.utils.cmake_prefix_path>)");
  if (gpus == 0)
    throw InputError("run.device is '" + text + "' but no GPU is visible to this process" + visible_devices_text() + "; " +
                     kBuild + " with CUDA: check nvidia-smi and CUDA_VISIBLE_DEVICES, or set run.device=cpu");
  const bool by_local_rank = !device.has_index();
  const int index = by_local_rank ? dist.local_rank : device.index();
  if (index >= gpus) {
    const std::string visible = "this process sees " + std::to_string(gpus) + " GPU" + (gpus == 1 ? "" : "s") + " (cuda:0" +
                                (gpus > 1 ? "..cuda:" + std::to_string(gpus - 1) : "") + ")" + visible_devices_text();
    throw InputError(by_local_rank
                         ? "run.device 'cuda' gives " + local_rank_text(dist) + " the GPU cuda:" + std::to_string(index) +
                               ", but " + visible + ": launch at most " + std::to_string(gpus) +
                               " processes per machine (torchrun --nproc_per_node, srun --ntasks-per-node)"
                         : "run.device '" + text + "' does not exist: " + visible + "; use an index below " + std::to_string(gpus));
  }
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

bool nccl_available() {
#ifdef MMDEBIAS_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::string resolve_backend(const std::string& backend, c10::Device device) {
  if (backend == "auto") return device.is_cuda() && nccl_available() ? "nccl" : "gloo";
  if (backend == "nccl" && !device.is_cuda())
    throw InputError("run.backend is 'nccl' but run.device is '" + device.str() + "': NCCL reduces between GPUs; set "
                     "run.device=cuda, or run.backend=gloo (or auto) for the CPU");
  if (backend == "nccl" && !nccl_available())
    throw InputError("run.backend is 'nccl' but " + kBuild + " without NCCL: build against a CUDA-enabled LibTorch, or set "
                     "run.backend=gloo");
  return backend;
}

void set_deterministic(bool on) {
  if (!on) return;
  // cuBLAS reads it when its first handle is made; a value the user set wins.
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::Context& context = at::globalContext();
  context.setDeterministicAlgorithms(true, /*warn_only=*/false);
  context.setDeterministicCuDNN(true);
  context.setBenchmarkCuDNN(false);
  context.setAllowTF32CuBLAS(false);
  context.setAllowTF32CuDNN(false);
}

void use_device(c10::Device device) {
  if (device.is_cpu()) return;
  c10::impl::getDeviceGuardImpl(device.type())->setDevice(device);
}

}  // namespace mmdebias::core
