// The Collective over c10d's ProcessGroupGloo, with a heartbeat in the store so that a failed or
// timed-out collective can say which rank stopped.
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
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

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

class GlooCollective : public Collective {
 public:
  GlooCollective(const DistributedConfig& config, std::chrono::milliseconds timeout) : config_(config), timeout_(timeout) {
    c10::intrusive_ptr<c10d::Store> store;
    if (!config.store_file.empty()) {
      store = c10::make_intrusive<c10d::FileStore>(config.store_file, config.world_size);
    } else {
      c10d::TCPStoreOptions opts;
      opts.port = static_cast<uint16_t>(config.master_port);
      opts.isServer = config.rank == 0 && !config.agent_store;
      opts.numWorkers = config.world_size;
      opts.waitWorkers = false;
      opts.timeout = timeout;
      store = c10::make_intrusive<c10d::TCPStore>(config.master_addr, opts);
    }
    store_ = c10::make_intrusive<c10d::PrefixStore>("mmdebias", store);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    bool loopback = config.master_addr.rfind("127.", 0) == 0 || config.master_addr == "localhost";
    // Gloo refuses an empty device list: bind the named interface, loopback for a one-machine world, else the host's.
    options->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                               : loopback       ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                : c10d::ProcessGroupGloo::createDefaultDevice());
    try {
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, config.rank, config.world_size, options);
    } catch (const std::exception& e) {
      throw RunError("distributed: rank " + std::to_string(config.rank) + " could not join the " + std::to_string(config.world_size) +
                     "-process group at " + config.master_addr + ":" + std::to_string(config.master_port) + " within " +
                     std::to_string(timeout.count() / 1000) + " s: " + e.what());
    }
    heartbeat_ = std::thread([this] { beat(); });
  }

  ~GlooCollective() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (heartbeat_.joinable()) heartbeat_.join();
  }

  int rank() const override { return config_.rank; }
  int world_size() const override { return config_.world_size; }

  void all_reduce_sum(at::Tensor& tensor) override {
    std::vector<at::Tensor> list{tensor};
    run("allreduce", [&] { return group_->allreduce(list); });
  }

  at::Tensor all_gather(const at::Tensor& tensor) override {
    if (tensor.scalar_type() == at::kBool) return all_gather(tensor.to(at::kByte)).to(at::kBool);  // Gloo has no bool
    // Gloo's allgather wants equal shapes: share the row counts, pad to the largest, trim after.
    at::Tensor rows = at::full({1}, tensor.size(0), at::kLong);
    std::vector<std::vector<at::Tensor>> counts_out(1);
    for (int r = 0; r < world_size(); ++r) counts_out[0].push_back(at::empty({1}, at::kLong));
    std::vector<at::Tensor> counts_in{rows};
    run("allgather", [&] { return group_->allgather(counts_out, counts_in); });
    int64_t most = 0;
    for (const auto& c : counts_out[0]) most = std::max(most, c.item<int64_t>());
    std::vector<int64_t> shape = tensor.sizes().vec();
    shape[0] = most;
    at::Tensor padded = at::zeros(shape, tensor.options());
    if (tensor.size(0) > 0) padded.narrow(0, 0, tensor.size(0)).copy_(tensor);
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < world_size(); ++r) out[0].push_back(at::empty(shape, tensor.options()));
    std::vector<at::Tensor> in{padded};
    run("allgather", [&] { return group_->allgather(out, in); });
    std::vector<at::Tensor> parts;
    for (int r = 0; r < world_size(); ++r) parts.push_back(out[0][r].narrow(0, 0, counts_out[0][r].item<int64_t>()));
    return at::cat(parts);
  }

  void broadcast(at::Tensor& tensor) override {
    if (tensor.scalar_type() == at::kBool) {  // Gloo has no bool
      at::Tensor bytes = tensor.to(at::kByte);
      broadcast(bytes);
      tensor.copy_(bytes);
      return;
    }
    std::vector<at::Tensor> list{tensor};
    run("broadcast", [&] { return group_->broadcast(list); });
  }

  void average_gradients(const std::vector<at::Tensor>& parameters, size_t bucket_bytes, at::Tensor& extra_sum) override {
    // One allreduce per step where the buckets allow it: every collective costs a round of thread wake-ups on
    // both ranks (milliseconds on a small VM, bench/run section 6), so the used-parameter flags and the caller's
    // extra values (loss terms, stop request) ride at the end of the last bucket instead of going alone.
    // A parameter without a gradient here sends zeros; whether any rank used it is known after the reduction.
    const auto count = static_cast<int64_t>(parameters.size());
    std::vector<at::Tensor> grads(parameters.size());
    std::vector<bool> zero_filled(parameters.size(), false);
    at::Tensor used = at::zeros({count}, at::kFloat);
    auto used_here = used.accessor<float, 1>();
    for (size_t i = 0; i < parameters.size(); ++i) {
      const auto& p = parameters[i];
      if (!p.grad().defined()) {
        p.mutable_grad() = at::zeros_like(p);
        zero_filled[i] = true;
      } else {
        used_here[static_cast<int64_t>(i)] = 1.0f;
      }
      grads[i] = p.mutable_grad();
    }
    // Buckets: consecutive gradients of one dtype up to about bucket_bytes.
    std::vector<std::pair<size_t, size_t>> buckets;  // [begin, end) into grads
    size_t bytes = 0;
    for (size_t i = 0; i < grads.size(); ++i) {
      const bool new_bucket = buckets.empty() || grads[buckets.back().first].scalar_type() != grads[i].scalar_type() || bytes >= bucket_bytes;
      if (new_bucket) {
        buckets.emplace_back(i, i);
        bytes = 0;
      }
      buckets.back().second = i + 1;
      bytes += static_cast<size_t>(grads[i].numel() * grads[i].element_size());
    }
    // The tail takes the last bucket's dtype when that is float or double (flags are exact, loss sums keep float
    // precision at least); otherwise it goes alone, in double.
    const at::ScalarType last_type = buckets.empty() ? at::kHalf : grads[buckets.back().first].scalar_type();
    const bool tail_rides = last_type == at::kFloat || last_type == at::kDouble;
    const at::Tensor tail_values = at::cat({used.to(at::kDouble), extra_sum.to(at::kDouble).reshape({-1})})
                                       .to(tail_rides ? last_type : at::kDouble);
    at::Tensor reduced_tail;
    for (size_t k = 0; k < buckets.size(); ++k) {
      const bool last = tail_rides && k + 1 == buckets.size();
      std::vector<at::Tensor> parts;
      for (size_t i = buckets[k].first; i < buckets[k].second; ++i) parts.push_back(grads[i].reshape({-1}));
      if (last) parts.push_back(tail_values);
      at::Tensor flat = at::cat(parts);
      all_reduce_sum(flat);
      int64_t offset = 0;
      for (size_t i = buckets[k].first; i < buckets[k].second; ++i) {
        grads[i].copy_(flat.narrow(0, offset, grads[i].numel()).view_as(grads[i])).div_(static_cast<double>(world_size()));
        offset += grads[i].numel();
      }
      if (last) reduced_tail = flat.narrow(0, offset, tail_values.numel()).to(at::kDouble);
    }
    if (!reduced_tail.defined()) {  // no parameters, or half-precision gradients: the tail goes alone
      reduced_tail = tail_values.clone();
      all_reduce_sum(reduced_tail);
      reduced_tail = reduced_tail.to(at::kDouble);
    }
    // A parameter no rank used keeps no gradient, as in one process (optimizers such as Adam skip it); one used on
    // some ranks only keeps the zeros it sent on the others, so every rank steps the same way.
    auto used_anywhere = reduced_tail.accessor<double, 1>();
    for (size_t i = 0; i < parameters.size(); ++i)
      if (zero_filled[i] && used_anywhere[static_cast<int64_t>(i)] == 0.0) parameters[i].mutable_grad() = at::Tensor();
    extra_sum.copy_(reduced_tail.narrow(0, count, extra_sum.numel()).view_as(extra_sum));
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
  void run(const char* what, Start&& start) {
    try {
      c10::intrusive_ptr<c10d::Work> work = start();
      work->wait(timeout_);
    } catch (const std::exception& e) {
      const std::string message = first_line(e.what());
      if (!looks_like_a_peer_problem(message))
        throw RunError("distributed: " + std::string(what) + " failed on rank " + std::to_string(rank()) + ": " + message);
      throw RunError("distributed: " + diagnose() + " (rank " + std::to_string(rank()) + ", " + what + " failed: " + message + ")");
    }
  }

  static bool looks_like_a_peer_problem(const std::string& m) {
    for (const char* word : {"imed out", "onnection", "closed", "reset", "peer", "Broken pipe", "EOF", "Socket", "socket"})
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
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  std::thread heartbeat_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace

std::shared_ptr<Collective> join_process_group(const DistributedConfig& config, std::chrono::milliseconds timeout) {
  if (config.world_size <= 1) return std::make_shared<Collective>();
  return std::make_shared<GlooCollective>(config, timeout);
}

}  // namespace mmdebias::core
