// Meta kernels for the ATen ops a C++ LibTorch has none for (most of them: the Python package registers its meta
// kernels in Python, and a C++ program never loads them; even aten::relu lacks one in 2.15). Each registered kernel
// runs the op on CPU zeros of the meta arguments' shapes and returns meta tensors of the results' shapes, so a
// component runs on meta through every op. It also checks devices more strictly than LibTorch's own kernels: a
// CPU tensor of one or more dimensions among meta arguments is an error even where a CPU kernel would not mind
// (at::mm, at::linear), and an op that reads values or whose output size depends on them throws naming the op, so
// sdk::testing::DeviceCheck reports it as a host read. For tests only: it changes the process's dispatcher.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

namespace devtest {

/// Ops that read tensor values back to the host, or whose output shape depends on them.
inline bool reads_host(const std::string& name) {
  static const char* const ops[] = {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select", "aten::_unique",
                                    "aten::_unique2", "aten::unique_dim", "aten::unique_consecutive", "aten::equal",
                                    "aten::is_nonzero", "aten::_assert_async", "aten::nonzero_static", "aten::item"};
  for (const char* op : ops)
    if (name == op) return true;
  return false;
}

inline at::Tensor to_cpu_zeros(const at::Tensor& t, const std::string& op) {
  if (!t.defined()) return t;
  if (t.is_meta()) return at::zeros(t.sizes(), t.options().device(at::kCPU));
  if (t.device().is_cpu() && t.dim() == 0) return t;  // a CPU scalar is allowed beside device tensors, as on CUDA
  throw std::runtime_error("Expected all tensors to be on the same device, but found at least two devices, meta and " +
                           t.device().str() + "! (" + op + ")");
}

inline at::Tensor to_meta(const at::Tensor& t) {
  if (!t.defined()) return t;
  return at::empty_strided(t.sizes(), t.strides(), t.options().device(at::kMeta));
}

/// The boxed kernel: shapes from a CPU run on zeros, devices checked, host reads refused.
inline void meta_by_cpu(const c10::OperatorHandle& op, c10::DispatchKeySet, torch::jit::Stack* stack) {
  const auto& schema = op.schema();
  const std::string name = "aten::" + schema.name().substr(schema.name().find("::") + 2) +
                           (schema.overload_name().empty() ? "" : "." + schema.overload_name());
  if (reads_host("aten::" + schema.name().substr(schema.name().find("::") + 2)))
    throw std::runtime_error(name + " reads values back to the host: it cannot run with Meta tensors");
  const size_t n = schema.arguments().size();
  std::vector<c10::IValue> originals(stack->end() - static_cast<std::ptrdiff_t>(n), stack->end());
  for (size_t i = 0; i < n; ++i) {
    c10::IValue& v = (*stack)[stack->size() - n + i];
    if (v.isTensor()) {
      v = to_cpu_zeros(v.toTensor(), name);
    } else if (v.isTensorList()) {
      std::vector<at::Tensor> list;
      for (const at::Tensor& t : v.toTensorVector()) list.push_back(to_cpu_zeros(t, name));
      v = c10::IValue(list);
    } else if (v.isList()) {
      auto list = v.toList();
      bool tensors = false;
      for (size_t j = 0; j < list.size(); ++j) tensors = tensors || list.get(j).isTensor();
      if (tensors) {
        c10::List<c10::optional<at::Tensor>> out;
        for (size_t j = 0; j < list.size(); ++j) {
          c10::IValue e = list.get(j);
          out.push_back(e.isTensor() ? c10::optional<at::Tensor>(to_cpu_zeros(e.toTensor(), name)) : c10::nullopt);
        }
        v = c10::IValue(out);
      }
    }
  }
  op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::CPU), stack);
  const auto& returns = schema.returns();
  for (size_t r = 0; r < returns.size(); ++r) {
    c10::IValue& v = (*stack)[stack->size() - returns.size() + r];
    // A return that aliases a written argument (in-place and out= ops) is that argument, resized as the CPU run was.
    const c10::AliasInfo* alias = returns[r].alias_info();
    bool done = false;
    if (alias != nullptr)
      for (size_t i = 0; i < n && !done; ++i) {
        const c10::AliasInfo* a = schema.arguments()[i].alias_info();
        if (a != nullptr && a->beforeSets() == alias->beforeSets() && originals[i].isTensor()) {
          at::Tensor orig = originals[i].toTensor();
          if (v.isTensor() && !orig.sizes().equals(v.toTensor().sizes())) orig.resize_(v.toTensor().sizes());
          v = orig;
          done = true;
        }
      }
    if (done) continue;
    if (v.isTensor()) {
      v = to_meta(v.toTensor());
    } else if (v.isTensorList()) {
      std::vector<at::Tensor> list;
      for (const at::Tensor& t : v.toTensorVector()) list.push_back(to_meta(t));
      v = c10::IValue(list);
    }
  }
}

/// Registers meta_by_cpu for every aten op with a CPU kernel and neither a Meta kernel nor a composite decomposition
/// (which already reaches the meta kernels of what it decomposes into). Once per process.
inline void register_meta_kernels() {
  static std::unique_ptr<torch::Library> lib = [] {
    auto l = std::make_unique<torch::Library>(torch::Library::IMPL, "aten", c10::DispatchKey::Meta, __FILE__, __LINE__);
    for (const auto& name : c10::Dispatcher::singleton().getAllOpNames()) {
      if (name.name.rfind("aten::", 0) != 0) continue;
      auto op = c10::Dispatcher::singleton().findOp(name);
      // aten::convolution is composite, but what it calls on meta (convolution_overrideable) only throws.
      const bool forced = name.name == "aten::convolution" && name.overload_name.empty();
      if (!op) continue;
      if (!forced && ( !op->hasKernelForDispatchKey(c10::DispatchKey::CPU) || op->hasKernelForDispatchKey(c10::DispatchKey::Meta) ||
          op->hasKernelForDispatchKey(c10::DispatchKey::CompositeImplicitAutograd) ||
          op->hasKernelForDispatchKey(c10::DispatchKey::CompositeExplicitAutograd)))
        continue;
      const std::string local = name.name.substr(6) + (name.overload_name.empty() ? "" : "." + name.overload_name);
      l->impl(local.c_str(), torch::CppFunction::makeFromBoxedFunction<&meta_by_cpu>());
    }
    return l;
  }();
  (void)lib;
}

}  // namespace devtest
