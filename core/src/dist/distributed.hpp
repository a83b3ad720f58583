// Data-parallel processes joined through LibTorch's c10d (Gloo or NCCL): rendezvous from the launcher's
// environment, and the Collective the engine and components reduce through.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <c10/core/Device.h>

#include "dist/collective.hpp"

namespace mmdebias::core {

/// Where this process stands among its peers, as the launcher said.
struct DistributedConfig {
  int rank = 0;                  ///< Global rank.
  int world_size = 1;            ///< Number of processes.
  int local_rank = 0;            ///< Rank on this machine.
  int local_world_size = 1;      ///< Processes on this machine (for the thread count).
  std::string master_addr = "127.0.0.1";  ///< Host of the rendezvous store.
  int master_port = 29500;       ///< Port of the rendezvous store.
  std::string store_file;        ///< A FileStore path on a shared file system instead of a TCPStore, when set.
  bool agent_store = false;      ///< torchrun's agent already hosts the TCPStore (rank 0 connects as a client).
  std::string launcher = "none"; ///< "torchrun/env", "slurm" or "none".
};

/// Reads RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun or by hand),
/// else SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (srun), plus MMDEBIAS_STORE_FILE
/// and TORCHELASTIC_USE_AGENT_STORE. A world of one when none is set; InputError on inconsistent values.
DistributedConfig distributed_config_from_env();

/// Joins the process group: backend "gloo" (devices on GLOO_SOCKET_IFNAME when set; tensors reduce on the CPU) or
/// "nccl" (tensors reduce on device, the rank's GPU). Every collective that a peer does not complete within timeout,
/// or that fails because a peer died, ends with a RunError naming the rank that stopped. A world of one gives the
/// local (identity) collective.
std::shared_ptr<Collective> join_process_group(const DistributedConfig& config, std::chrono::milliseconds timeout,
                                               const std::string& backend, c10::Device device);

}  // namespace mmdebias::core
