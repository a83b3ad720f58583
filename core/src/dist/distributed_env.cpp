#include <cstdlib>
#include <string>

#include "dist/distributed.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  try {
    size_t used = 0;
    int value = std::stoi(v, &used);
    if (used != std::string(v).size()) throw std::invalid_argument(v);
    return value;
  } catch (const std::exception&) {
    throw InputError(std::string("environment variable ") + name + "='" + v + "' is not an integer");
  }
}

}  // namespace

DistributedConfig distributed_config_from_env() {
  DistributedConfig c;
  if (env("WORLD_SIZE") || env("RANK")) {
    c.launcher = "torchrun/env";
    c.rank = env_int("RANK", 0);
    c.world_size = env_int("WORLD_SIZE", 1);
    c.local_rank = env_int("LOCAL_RANK", c.rank);
    c.local_world_size = env_int("LOCAL_WORLD_SIZE", c.world_size);
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    c.launcher = "slurm";
    c.rank = env_int("SLURM_PROCID", 0);
    c.world_size = env_int("SLURM_NTASKS", 1);
    c.local_rank = env_int("SLURM_LOCALID", 0);
    // SLURM_NTASKS_PER_NODE may read "2" or "2(x3)"; the leading number is this node's count.
    const char* per_node = env("SLURM_NTASKS_PER_NODE");
    c.local_world_size = per_node ? std::max(1, std::atoi(per_node)) : 1;
  }
  if (c.world_size < 1) throw InputError("WORLD_SIZE must be at least 1, got " + std::to_string(c.world_size));
  if (c.rank < 0 || c.rank >= c.world_size)
    throw InputError("rank " + std::to_string(c.rank) + " is outside the world of " + std::to_string(c.world_size) + " processes");
  if (const char* addr = env("MASTER_ADDR")) c.master_addr = addr;
  c.master_port = env_int("MASTER_PORT", c.master_port);
  if (c.master_port < 1 || c.master_port > 65535) throw InputError("MASTER_PORT " + std::to_string(c.master_port) + " is not a port");
  if (const char* file = env("MMDEBIAS_STORE_FILE")) c.store_file = file;
  if (const char* agent = env("TORCHELASTIC_USE_AGENT_STORE")) c.agent_store = std::string(agent) == "True" || std::string(agent) == "1";
  if (c.world_size > 1 && !env("MASTER_ADDR") && c.store_file.empty() && !c.agent_store)
    throw InputError("a world of " + std::to_string(c.world_size) + " processes needs MASTER_ADDR and MASTER_PORT (or MMDEBIAS_STORE_FILE)");
  return c;
}

}  // namespace mmdebias::core
