// A host context for tests of components that use none of the host's services.
#pragma once

#include <stdexcept>
#include <string>

#include "mmdebias/sdk/context.hpp"

namespace mmdebias::test {

/// Logs nothing, records nothing, has no RNG streams; a world of one on the CPU.
class NullContext : public sdk::Context {
 public:
  /// phase() answers this.
  explicit NullContext(sdk::Phase phase = sdk::Phase::Eval) : phase_(phase) {}
  void log(sdk::LogLevel, const std::string&) override {}
  at::Generator& rng(const std::string&) override { throw std::logic_error("NullContext has no RNG streams"); }
  at::Generator& shared_rng(const std::string&) override { throw std::logic_error("NullContext has no RNG streams"); }
  void metric(const std::string&, double) override {}
  void metric_tensor(const std::string&, const at::Tensor&) override {}
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  sdk::Phase phase() const override { return phase_; }
  int64_t step() const override { return 0; }
  int64_t epoch() const override { return 0; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(at::Tensor&) override {}
  at::Tensor all_gather(const at::Tensor& t) override { return t; }

 private:
  sdk::Phase phase_;
};

}  // namespace mmdebias::test
