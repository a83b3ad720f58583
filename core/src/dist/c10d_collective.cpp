// The Collective over c10d's process groups (Gloo between CPUs, NCCL between GPUs), with a heartbeat in the store so
// that a failed or timed-out collective can say which rank stopped.
#include <atomic>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "compat/c10d.hpp"
#include "dist/distributed.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

using namespace std::chrono_literals;
constexpr auto kHeartbeat = 500ms;

std::vector<uint8_t> bytes_of(int64_t v) {
  std::string s = std::to_string(v);
  return {s.begin(), s.end()};
}

int64_t int_of(const std::vector<uint8_t>& b) { return std::atoll(std::string(b.begin(), b.end()).c_str()); }

c10::intrusive_ptr<c10d::Store> rendezvous_store(const DistributedConfig& config, std::chrono::milliseconds timeout) {
  if (!config.store_file.empty()) return c10::make_intrusive<c10d::FileStore>(config.store_file, config.world_size);
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(config.master_port);
  opts.isServer = config.rank == 0 && !config.agent_store;
  opts.numWorkers = config.world_size;
  opts.waitWorkers = false;
  opts.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(config.master_addr, opts);
}

c10::intrusive_ptr<compat::ProcessGroupBase> gloo_group(const c10::intrusive_ptr<c10d::Store>& store, const DistributedConfig& config,
                                                        std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  bool loopback = config.master_addr.rfind("127.", 0) == 0 || config.master_addr == "localhost";
  // Gloo refuses an empty device list: bind the named interface, loopback for a one-machine world, else the host's.
  options->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                             : loopback       ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                              : c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, config.rank, config.world_size, options);
}

#ifdef MMDEBIAS_WITH_NCCL
c10::intrusive_ptr<compat::ProcessGroupBase> nccl_group(const c10::intrusive_ptr<c10d::Store>& store, const DistributedConfig& config,
                                                        std::chrono::milliseconds timeout) {
  // A collective that times out or whose peer died must end in an exception we can name the rank in, not in the
  // watchdog tearing the process down (NCCL's default): wait() blocks and throws; the watchdog only cleans up.
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2", /*overwrite=*/0);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, config.rank, config.world_size, options);
}
#endif

c10::intrusive_ptr<compat::ProcessGroupBase> make_group(const std::string& backend, const c10::intrusive_ptr<c10d::Store>& store,
                                                        const DistributedConfig& config, std::chrono::milliseconds timeout) {
#ifdef MMDEBIAS_WITH_NCCL
  if (backend == "nccl") return nccl_group(store, config, timeout);
#endif
  if (backend != "gloo") throw InputError("run.backend '" + backend + "' is not available in this build");
  return gloo_group(store, config, timeout);
}

class C10dCollective : public Collective {
 public:
  C10dCollective(const DistributedConfig& config, std::chrono::milliseconds timeout, const std::string& backend, c10::Device device)
      : config_(config), timeout_(timeout), backend_(backend), wire_(backend == "nccl" ? device : c10::Device(c10::kCPU)) {
    store_ = c10::make_intrusive<c10d::PrefixStore>("mmdebias", rendezvous_store(config, timeout));
    try {
      group_ = make_group(backend, store_, config, timeout);
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& e) {
      throw RunError("distributed: rank " + std::to_string(config.rank) + " could not join the " + std::to_string(config.world_size) +
                     "-process " + backend + " group at " + config.master_addr + ":" + std::to_string(config.master_port) +
                     " within " + std::to_string(timeout.count() / 1000) + " s: " + e.what());
    }
    heartbeat_ = std::thread([this] { beat(); });
  }

  ~C10dCollective() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (heartbeat_.joinable()) heartbeat_.join();
  }

  int rank() const override { return config_.rank; }
  int world_size() const override { return config_.world_size; }

  void all_reduce_sum(at::Tensor& tensor) override { start_all_reduce_sum(tensor)(); }

  std::function<void()> start_all_reduce_sum(at::Tensor& tensor) override {
    at::Tensor wire = tensor.to(wire_);  // the same tensor where it already is
    std::vector<at::Tensor> list{wire};
    c10::intrusive_ptr<c10d::Work> work = start("allreduce", [&] { return group_->allreduce(list); });
    return [this, work, wire, tensor]() mutable {
      finish("allreduce", work);
      if (!wire.is_same(tensor)) tensor.copy_(wire);
    };
  }

  at::Tensor all_gather(const at::Tensor& tensor) override {
    if (tensor.scalar_type() == at::kBool) return all_gather(tensor.to(at::kByte)).to(at::kBool);  // Gloo has no bool
    // The backends' allgather wants equal shapes: share the row counts, pad to the largest, trim after.
    at::Tensor rows = at::full({1}, tensor.size(0), at::TensorOptions(at::kLong).device(wire_));
    std::vector<std::vector<at::Tensor>> counts_out(1);
    for (int r = 0; r < world_size(); ++r) counts_out[0].push_back(at::empty({1}, rows.options()));
    std::vector<at::Tensor> counts_in{rows};
    run("allgather", [&] { return group_->allgather(counts_out, counts_in); });
    const at::Tensor counts = at::cat(counts_out[0]).cpu();  // one read back of every rank's count
    const int64_t most = counts.max().item<int64_t>();
    std::vector<int64_t> shape = tensor.sizes().vec();
    shape[0] = most;
    at::Tensor padded = at::zeros(shape, tensor.options().device(wire_));
    if (tensor.size(0) > 0) padded.narrow(0, 0, tensor.size(0)).copy_(tensor);
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < world_size(); ++r) out[0].push_back(at::empty(shape, padded.options()));
    std::vector<at::Tensor> in{padded};
    run("allgather", [&] { return group_->allgather(out, in); });
    std::vector<at::Tensor> parts;
    for (int r = 0; r < world_size(); ++r) parts.push_back(out[0][r].narrow(0, 0, counts[r].item<int64_t>()));
    return at::cat(parts).to(tensor.device());
  }

  void broadcast(at::Tensor& tensor) override {
    if (tensor.scalar_type() == at::kBool) {  // Gloo has no bool
      at::Tensor bytes = tensor.to(at::kByte);
      broadcast(bytes);
      tensor.copy_(bytes);
      return;
    }
    at::Tensor wire = tensor.to(wire_);
    std::vector<at::Tensor> list{wire};
    run("broadcast", [&] { return group_->broadcast(list); });
    if (!wire.is_same(tensor)) tensor.copy_(wire);
  }

  std::string broadcast_string(const std::string& text) override {
    at::Tensor size = at::full({1}, static_cast<int64_t>(text.size()), at::kLong);
    broadcast(size);
    at::Tensor data = at::zeros({size.item<int64_t>()}, at::kByte);
    if (rank() == 0 && !text.empty()) std::memcpy(data.data_ptr(), text.data(), text.size());
    broadcast(data);
    return std::string(static_cast<const char*>(data.data_ptr()), static_cast<size_t>(data.numel()));
  }

 private:
  template <class Start>
  c10::intrusive_ptr<c10d::Work> start(const char* what, Start&& begin) {
    try {
      return begin();
    } catch (const std::exception& e) {
      fail(what, e);
    }
  }

  void finish(const char* what, const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      work->wait(timeout_);
    } catch (const std::exception& e) {
      fail(what, e);
    }
  }

  template <class Start>
  void run(const char* what, Start&& begin) {
    finish(what, start(what, std::forward<Start>(begin)));
  }

  [[noreturn]] void fail(const char* what, const std::exception& e) {
    const std::string message = first_line(e.what());
    if (!looks_like_a_peer_problem(message))
      throw RunError("distributed: " + std::string(what) + " (" + backend_ + ") failed on rank " + std::to_string(rank()) + ": " + message);
    throw RunError("distributed: " + diagnose() + " (rank " + std::to_string(rank()) + ", " + backend_ + " " + what + " failed: " + message + ")");
  }

  static bool looks_like_a_peer_problem(const std::string& m) {
    for (const char* word : {"imed out", "NCCL error", "Watchdog", "onnection", "closed", "reset", "peer", "Broken pipe", "EOF", "Socket", "socket"})
      if (m.find(word) != std::string::npos) return true;
    return false;
  }

  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  // Each rank counts up its key in the store; a rank whose count stops moving has stopped.
  void beat() {
    int64_t count = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      try {
        store_->set("alive/" + std::to_string(rank()), bytes_of(++count));
      } catch (const std::exception&) {
        // The store's host is gone; diagnose() says so when a collective fails.
      }
      lock.lock();
      wake_.wait_for(lock, kHeartbeat, [this] { return stopping_; });
    }
  }

  std::string diagnose() {
    try {
      std::vector<int64_t> before(world_size()), after(world_size());
      auto read = [&](std::vector<int64_t>& into) {
        for (int r = 0; r < world_size(); ++r) {
          std::string key = "alive/" + std::to_string(r);
          into[r] = store_->check({key}) ? int_of(store_->get(key)) : -1;
        }
      };
      read(before);
      std::this_thread::sleep_for(kHeartbeat * 4);
      read(after);
      std::string stopped;
      for (int r = 0; r < world_size(); ++r)
        if (r != rank() && after[r] == before[r]) stopped += (stopped.empty() ? "" : ", ") + std::to_string(r);
      if (!stopped.empty()) return "rank " + stopped + " stopped responding";
      return "a peer did not take part in a collective in time (all ranks are alive: are they running the same manifest?)";
    } catch (const std::exception&) {
      return config_.agent_store ? "the rendezvous store (torchrun's agent) is gone"
                                 : "rank 0 stopped responding (its rendezvous store is gone)";
    }
  }

  DistributedConfig config_;
  std::chrono::milliseconds timeout_;
  std::string backend_;
  c10::Device wire_;  // where the backend reduces: the CPU for Gloo, the rank's GPU for NCCL
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<compat::ProcessGroupBase> group_;
  std::thread heartbeat_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace

std::shared_ptr<Collective> join_process_group(const DistributedConfig& config, std::chrono::milliseconds timeout,
                                               const std::string& backend, c10::Device device) {
  if (config.world_size <= 1) return std::make_shared<Collective>();
  return std::make_shared<C10dCollective>(config, timeout, backend, device);
}

}  // namespace mmdebias::core
