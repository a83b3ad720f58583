#include "train/gradient_reducer.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <utility>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace mmdebias::core {
namespace {

// The bucket that starts last is exposed (nothing is left to overlap it): as small as this, like DDP's first bucket.
constexpr size_t kLastBucketBytes = size_t{1} << 20;

using Accumulator = decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()));

// Calls back after a parameter's gradient accumulator ran, i.e. once its .grad holds this backward's contribution.
class ReadyHook : public torch::autograd::FunctionPostHook {
 public:
  explicit ReadyHook(std::function<void()> ready) : ready_(std::move(ready)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    ready_();
    return outputs;
  }

 private:
  std::function<void()> ready_;
};

size_t bytes_of(const at::Tensor& p) { return static_cast<size_t>(p.numel()) * p.element_size(); }

}  // namespace

struct Bucket {
  std::vector<size_t> members;  // parameter indices
  size_t pending = 0;           // members whose gradient is not ready yet
  at::Tensor flat;              // the members' gradients (and the tail, for the bucket that carries it) while reducing
  std::function<void()> wait;
};

struct GradientReducer::State {
  std::vector<at::Tensor> params;
  Collective& collective;
  std::vector<Bucket> buckets;  // in the order they start, the same on every rank
  std::vector<size_t> bucket_of;
  std::vector<char> ready;
  size_t next = 0;  // buckets start in order: a rank must never start bucket k+1 before bucket k
  size_t early = 0, early_last = 0;
  bool armed = false;
  std::mutex mutex;
  std::vector<std::pair<Accumulator, uintptr_t>> hooks;

  State(std::vector<at::Tensor> p, Collective& c) : params(std::move(p)), collective(c) {}

  // Ready for the next step: no bucket started, every gradient pending.
  void reset() {
    for (Bucket& b : buckets) b.pending = b.members.size();
    std::fill(ready.begin(), ready.end(), 0);
    next = 0;
    early = 0;
  }

  void on_ready(size_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed || ready[i]) return;
    ready[i] = 1;
    --buckets[bucket_of[i]].pending;
    while (next + 1 < buckets.size() && buckets[next].pending == 0) {  // the last bucket waits for finish()
      start(next++, at::Tensor());
      ++early;
    }
  }

  void start(size_t k, const at::Tensor& tail) {
    Bucket& b = buckets[k];
    std::vector<at::Tensor> parts;
    for (size_t i : b.members) parts.push_back(params[i].grad().reshape({-1}));
    if (tail.defined()) parts.push_back(tail);
    b.flat = at::cat(parts);
    b.wait = collective.start_all_reduce_sum(b.flat);
  }
};

GradientReducer::GradientReducer(std::vector<at::Tensor> parameters, size_t bucket_bytes, Collective& collective)
    : state_(std::make_shared<State>(std::move(parameters), collective)) {
  State& s = *state_;
  const size_t n = s.params.size();
  s.bucket_of.assign(n, 0);
  s.ready.assign(n, 0);
  // Gradients become ready roughly in the reverse of registration: buckets of one dtype over the reversed list, except
  // that the parameters registered first (ready last) form the last bucket, kept small.
  std::vector<std::vector<size_t>> groups;
  auto fill = [&](size_t i, size_t& bytes) {
    const bool fresh = groups.empty() || s.params[groups.back().front()].scalar_type() != s.params[i].scalar_type() || bytes >= bucket_bytes;
    if (fresh) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += bytes_of(s.params[i]);
  };
  size_t tail_end = 0, bytes = 0;  // the last bucket: parameters [0, tail_end)
  while (tail_end < n && (tail_end == 0 || (bytes < std::min(kLastBucketBytes, bucket_bytes) &&
                                            s.params[tail_end].scalar_type() == s.params[0].scalar_type())))
    bytes += bytes_of(s.params[tail_end++]);
  bytes = 0;
  for (size_t i = n; i-- > tail_end;) fill(i, bytes);
  if (tail_end > 0) {
    groups.emplace_back();
    for (size_t i = tail_end; i-- > 0;) groups.back().push_back(i);
  }
  for (auto& members : groups) {
    Bucket b;
    b.members = std::move(members);
    for (size_t i : b.members) s.bucket_of[i] = s.buckets.size();
    s.buckets.push_back(std::move(b));
  }
  s.reset();
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < n; ++i) {
    if (!s.params[i].requires_grad()) continue;
    Accumulator acc = torch::autograd::impl::grad_accumulator(s.params[i]);
    if (!acc) continue;
    const uintptr_t key = acc->add_post_hook(std::make_unique<ReadyHook>([weak, i] {
      if (auto state = weak.lock()) state->on_ready(i);
    }));
    s.hooks.emplace_back(std::move(acc), key);
  }
}

GradientReducer::~GradientReducer() {
  for (auto& [acc, key] : state_->hooks) acc->del_post_hook(key);
}

void GradientReducer::arm() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.armed = true;
}

void GradientReducer::finish(at::Tensor& extra) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.armed = false;
  s.early_last = s.early;
  const auto count = static_cast<int64_t>(s.params.size());
  // Whether this rank used each parameter; one it did not sends zeros, and keeps them only if some rank used it.
  std::vector<double> used(s.params.size(), 0.0);
  std::vector<bool> zero_filled(s.params.size(), false);
  for (size_t i = 0; i < s.params.size(); ++i) {
    at::Tensor& p = s.params[i];
    if (p.grad().defined()) {
      used[i] = 1.0;
    } else {
      p.mutable_grad() = at::zeros_like(p);
      zero_filled[i] = true;
    }
  }
  // The tail rides in the last bucket when that bucket is float or double (flags stay exact, sums keep at least float
  // precision); otherwise (or without parameters) it goes alone, in double.
  const c10::Device device = s.params.empty() ? extra.device() : s.params.front().device();
  const at::ScalarType last_type = s.buckets.empty() ? at::kDouble : s.params[s.buckets.back().members.front()].scalar_type();
  const bool rides = !s.buckets.empty() && (last_type == at::kFloat || last_type == at::kDouble);
  at::Tensor tail = at::cat({at::tensor(used, at::kDouble), extra.to(at::kDouble).reshape({-1})})
                        .to(at::TensorOptions(rides ? last_type : at::kDouble).device(device));
  for (size_t k = s.next; k < s.buckets.size(); ++k) s.start(k, rides && k + 1 == s.buckets.size() ? tail : at::Tensor());
  s.next = s.buckets.size();
  std::function<void()> tail_wait;
  if (!rides) tail_wait = s.collective.start_all_reduce_sum(tail);
  const double world = s.collective.world_size();
  at::Tensor reduced_tail;
  for (size_t k = 0; k < s.buckets.size(); ++k) {
    Bucket& b = s.buckets[k];
    b.wait();
    int64_t offset = 0;
    for (size_t i : b.members) {
      at::Tensor& g = s.params[i].mutable_grad();
      g.copy_(b.flat.narrow(0, offset, g.numel()).view_as(g)).div_(world);
      offset += g.numel();
    }
    if (rides && k + 1 == s.buckets.size()) reduced_tail = b.flat.narrow(0, offset, tail.numel());
    b.flat = at::Tensor();
    b.wait = nullptr;
  }
  if (tail_wait) {
    tail_wait();
    reduced_tail = tail;
  }
  const at::Tensor host = reduced_tail.to(at::kDouble).cpu();  // the step's one read back: flags and extra
  auto used_anywhere = host.accessor<double, 1>();
  for (size_t i = 0; i < s.params.size(); ++i)
    if (zero_filled[i] && used_anywhere[static_cast<int64_t>(i)] == 0.0) s.params[i].mutable_grad() = at::Tensor();
  extra.copy_(host.narrow(0, count, extra.numel()).view_as(extra));
  s.reset();
}

size_t GradientReducer::started_during_backward() const { return state_->early_last; }

}  // namespace mmdebias::core
