// c10d as both LibTorch builds spell it: 2.x split the process group into a front (ProcessGroup) and per-device
// backends (ProcessGroupGloo, ProcessGroupNCCL derive from Backend); 1.13's Gloo group is itself a ProcessGroup.
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef MMDEBIAS_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "compat/torch.hpp"

namespace mmdebias::core::compat {

#if MMDEBIAS_TORCH2
/// What a Gloo or NCCL group is, with allreduce, allgather and broadcast.
using ProcessGroupBase = c10d::Backend;
#else
/// What a Gloo group is, with allreduce, allgather and broadcast.
using ProcessGroupBase = c10d::ProcessGroup;
#endif

}  // namespace mmdebias::core::compat
