// Checks, for tests, that a component keeps every tensor on its inputs' device: DeviceCheck runs its hooks with
// inputs on one device (meta on a machine without a GPU) and reports what strayed, what read values back to the host
// and what could not be checked. tests/devices/test_meta_device.cpp runs it over every shipped component.
#pragma once

#include <cctype>
#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/nn/module.h>

namespace mmdebias::sdk::testing {

/// Moves every parameter and buffer of module (and of its submodules) to device in place, as the host's
/// Module::to(device) moves a model, but also to the meta device, which Module::to refuses (set_data rejects a
/// change of backend). Every handle to them follows, members included; plain member tensors stay where they are,
/// as they do when the host moves a model. For tests only.
inline void move_in_place(torch::nn::Module& module, c10::Device device) {
  auto move = [&](at::Tensor& t) {
    if (!t.defined() || t.device() == device) return;
    at::Tensor moved = t.device().is_meta() || device.is_meta()
                           ? at::empty_strided(t.sizes(), t.strides(), t.options().device(device))
                           : t.detach().to(device);
    t.unsafeGetTensorImpl()->shallow_copy_from(moved.getIntrusivePtr());
  };
  for (auto& p : module.parameters()) move(p);
  for (auto& b : module.buffers()) move(b);
}

/// Runs a component's hooks on inputs on one device and records, per hook, whether it stayed there: every tensor
/// the hook returns, and every parameter and buffer of the module it is given afterwards, must be on that device,
/// and no op may meet tensors of two devices. On a CPU-only machine the device is meta: a tensor made with default
/// options (at::zeros({n})) lands on the CPU and is caught, and a value read back to the host (.item(), a copy to
/// the CPU, an op whose output shape depends on values) throws there, so the hook is reported as reading the host
/// unless allow_host_read() declared it with a reason. An op LibTorch has no meta kernel for stops the hook
/// without failing it: the report lists it as not checked past that op.
class DeviceCheck {
 public:
  /// What one hook did.
  enum class Outcome { Ok, HostRead, NoKernel, Failed };
  /// One hook's result.
  struct Entry {
    std::string component, hook;  ///< "arl.reweight", "loss".
    Outcome outcome = Outcome::Ok;
    std::string detail;           ///< Why it failed, the declared reason of a host read, or the op lacking a kernel.
  };

  /// A check of hooks run with their inputs on device (at::kMeta on a CPU-only machine).
  explicit DeviceCheck(c10::Device device = c10::Device(c10::kMeta)) : device_(device) {}
  /// The device every tensor must stay on.
  c10::Device device() const { return device_; }

  /// Declares that component's hook reads values back to the host by design, with a one-line reason ("*" as hook:
  /// every hook of it). Such a hook stops at the read and is listed, not failed; an undeclared read fails.
  void allow_host_read(const std::string& component, const std::string& hook, const std::string& reason) {
    allowed_[component + "\n" + hook] = reason;
  }

  /// Runs fn (one hook of component) and checks what it returns and, when given, module's parameters and buffers
  /// afterwards. Returns true when the hook ran to its end on the device (the caller may go on to the next hook).
  bool run(const std::string& component, const std::string& hook, const std::function<std::vector<at::Tensor>()>& fn,
           const torch::nn::Module* module = nullptr) {
    Entry e{component, hook, Outcome::Ok, ""};
    try {
      const std::vector<at::Tensor> out = fn();
      for (size_t i = 0; i < out.size() && e.outcome == Outcome::Ok; ++i)
        if (out[i].defined() && out[i].device() != device_)
          fail(e, "returned tensor " + std::to_string(i) + " on " + out[i].device().str());
      if (module && e.outcome == Outcome::Ok) {
        for (const auto& item : module->named_parameters())
          if (item.value().defined() && item.value().device() != device_)
            fail(e, "left parameter " + item.key() + " on " + item.value().device().str());
        for (const auto& item : module->named_buffers())
          if (item.value().defined() && item.value().device() != device_)
            fail(e, "left buffer " + item.key() + " on " + item.value().device().str());
      }
    } catch (const std::exception& ex) {
      classify(e, message_of(ex));
    }
    entries_.push_back(e);
    return e.outcome == Outcome::Ok;
  }

  /// Every hook run, in order.
  const std::vector<Entry>& entries() const { return entries_; }
  /// "component hook: why" for every failed hook.
  std::vector<std::string> failures() const {
    std::vector<std::string> out;
    for (const auto& e : entries_)
      if (e.outcome == Outcome::Failed) out.push_back(e.component + " " + e.hook + ": " + e.detail);
    return out;
  }
  /// A table a reviewer reads: hooks checked, host reads declared (with reasons), hooks stopped by a missing meta
  /// kernel, failures.
  std::string report() const {
    std::ostringstream s;
    const char* titles[] = {"checked on ", "reads the host by design (declared)", "not checked past an op without a meta kernel in this LibTorch", "FAILED"};
    for (Outcome o : {Outcome::Ok, Outcome::HostRead, Outcome::NoKernel, Outcome::Failed}) {
      std::ostringstream part;
      int n = 0;
      for (const auto& e : entries_)
        if (e.outcome == o) {
          part << "  " << e.component << " " << e.hook << (e.detail.empty() ? "" : ": " + e.detail) << "\n";
          ++n;
        }
      if (n == 0) continue;
      s << titles[static_cast<int>(o)] << (o == Outcome::Ok ? device_.str() : "") << " (" << n << "):\n" << part.str();
    }
    return s.str();
  }

 private:
  static std::string message_of(const std::exception& ex) {
    if (const auto* c10e = dynamic_cast<const c10::Error*>(&ex)) return c10e->what_without_backtrace();
    return ex.what();
  }
  static bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }
  /// The "aten::name" an error names, or "".
  static std::string op_of(const std::string& message) {
    const size_t at = message.find("aten::");
    if (at == std::string::npos) return "";
    size_t end = at + 6;
    while (end < message.size() && (std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '_' || message[end] == '.')) ++end;
    return message.substr(at, end - at);
  }
  void fail(Entry& e, const std::string& why) {
    e.outcome = Outcome::Failed;
    e.detail = why;
  }
  void classify(Entry& e, const std::string& message) {
    const std::string first = message.substr(0, message.find('\n'));
    const std::string op = op_of(message);
    // Ops that read values (or whose output shape depends on them): a synchronisation with the host on a GPU.
    static const char* const host_ops[] = {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select",
                                           "aten::_unique", "aten::_unique2", "aten::unique_dim", "aten::unique_consecutive",
                                           "aten::equal", "aten::is_nonzero", "aten::_assert_async"};
    bool host = contains(message, "Cannot copy out of meta tensor") || contains(message, "copy out of meta");
    for (const char* h : host_ops)
      if (op == h) host = true;
    if (device_.is_meta() && host) {
      auto it = allowed_.find(e.component + "\n" + e.hook);
      if (it == allowed_.end()) it = allowed_.find(e.component + "\n*");
      if (it != allowed_.end()) {
        e.outcome = Outcome::HostRead;
        e.detail = it->second + " [" + (op.empty() ? "copy to the host" : op) + "]";
      } else {
        fail(e, "reads a value back to the host (" + (op.empty() ? first : op) +
                    "): keep it on the device, or declare it with allow_host_read and a reason");
      }
      return;
    }
    const bool no_kernel = device_.is_meta() && !op.empty() &&
                           (contains(message, "Meta kernel") || contains(message, "'Meta' backend") ||
                            contains(message, "meta kernel") || contains(message, "Meta tensors"));
    if (no_kernel) {
      e.outcome = Outcome::NoKernel;
      e.detail = op;
      return;
    }
    fail(e, first);  // two devices met ("Expected all tensors to be on the same device"), or any other error
  }

  c10::Device device_;
  std::map<std::string, std::string> allowed_;
  std::vector<Entry> entries_;
};

}  // namespace mmdebias::sdk::testing
