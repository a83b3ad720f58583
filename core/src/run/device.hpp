// The run's device and the settings that go with it: run.device resolved for this rank (cuda -> the GPU of its local
// rank), run.backend resolved for that device, and run.deterministic. Every refusal says which device, which build
// and what to change, before any compute.
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "dist/distributed.hpp"

namespace mmdebias::core {

/// run.device for this process: "cpu"; "cuda" -> cuda:<local rank> (LOCAL_RANK or SLURM_LOCALID); "cuda:N" -> GPU N
/// whatever the rank (an explicit override, e.g. run.device=cuda:3 on one rank's command line). InputError when the
/// text is no device, the build has no CUDA, no GPU is visible, or the index does not exist.
c10::Device resolve_device(const std::string& text, const DistributedConfig& dist);

/// resolve_device for a build with or without CUDA (has_cuda) on a machine where gpus GPUs are visible.
c10::Device resolve_device(const std::string& text, const DistributedConfig& dist, bool has_cuda, int gpus);

/// Whether this build can reduce through NCCL (it was built against a CUDA LibTorch).
bool nccl_available();

/// run.backend for device: "auto" -> nccl on a GPU, gloo on the CPU. InputError for nccl on the CPU or in a build
/// without NCCL.
std::string resolve_backend(const std::string& backend, c10::Device device);

/// run.deterministic: when on, deterministic algorithms only (an op without one is an error naming it), cuDNN
/// deterministic and not benchmarking, no TF32, and cuBLAS's fixed workspace (CUBLAS_WORKSPACE_CONFIG, unless set).
/// Call before the first GPU operation.
void set_deterministic(bool on);

/// Makes device the current one of its kind for this thread (a no-op on the CPU), so that LibTorch's and NCCL's
/// per-device state is created on it.
void use_device(c10::Device device);

}  // namespace mmdebias::core
