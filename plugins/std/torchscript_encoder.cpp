// std.torchscript: an encoder defined in Python, saved with torch.jit.save and trained here. TorchScript is
// deprecated upstream in favour of torch.export, but an exported program cannot be trained from C++; a scripted
// module can. The scripted module's parameters and buffers are registered, as the same tensors, in a module
// tree with its own names (conv1.weight, layer1.0.bn1.running_mean...), so the optimizer, checkpoints, init:,
// freezing and data-parallel reduction see them as any encoder's. Everything TorchScript-specific is in this file.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/nn/module.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.torchscript";

/// The options of std.torchscript.
struct Config {
  std::string path;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.required("path", &Config::path,
               "The TorchScript file (torch.jit.save of a torch.jit.script'ed or traced nn.Module), relative to the working "
               "directory. forward(x) takes this modality's batch and returns features [B, D] or tokens [B, T, D]");
  }
};

/// Registers scripted's parameters, buffers and submodules into `into` under the same names, sharing the tensors.
void mirror(torch::nn::Module& into, const torch::jit::Module& scripted) {
  for (const auto& p : scripted.named_parameters(/*recurse=*/false))
    into.register_parameter(p.name, p.value, p.value.requires_grad());
  for (const auto& b : scripted.named_buffers(/*recurse=*/false)) into.register_buffer(b.name, b.value);
  for (const auto& c : scripted.named_children()) {
    auto child = std::make_shared<torch::nn::Module>(c.name);
    mirror(*child, c.value);
    into.register_module(c.name, child);
  }
}

// The interpreter's error ends with its cause ("RuntimeError: ..."), after a traceback: the cause first, then the
// traceback's start.
std::string first_lines(const std::string& text, int lines) {
  size_t end = 0;
  for (int i = 0; i < lines && end != std::string::npos; ++i) end = text.find('\n', end ? end + 1 : 0);
  if (end == std::string::npos) return text;
  std::string trimmed = text.substr(0, text.find_last_not_of("\n ") + 1);
  const std::string cause = trimmed.substr(trimmed.find_last_of('\n') + 1);
  return cause + "\n" + text.substr(0, end) + "\n  ...";
}

class TorchScriptEncoder : public sdk::Encoder {
 public:
  TorchScriptEncoder(torch::jit::Module scripted, const sdk::ModalitySpec& input, std::string where)
      : scripted_(std::move(scripted)), input_(input), where_(std::move(where)) {
    mirror(*this, scripted_);
    output_ = probe();
  }

  sdk::FeatureSpec output() const override { return output_; }

  at::Tensor encode(const at::Tensor& input, const sdk::AttentionSites&) override {
    check_input_shape(input, input_.shape, where_);
    at::Tensor out = call(input);
    const bool ok = out.dim() == (output_.tokens ? 3 : 2) && out.size(0) == input.size(0) && out.size(-1) == output_.dim;
    if (!ok)
      throw std::runtime_error(where_ + ": forward returned " + batch_shape_string(out) + " for a batch " + batch_shape_string(input) +
                               ", not [" + std::to_string(input.size(0)) + (output_.tokens ? ", T, " : ", ") +
                               std::to_string(output_.dim) + "] as on the sample batch it was checked with");
    return out;
  }

  void train(bool on) override {
    torch::nn::Module::train(on);
    scripted_.train(on);
  }

 private:
  at::Tensor call(const at::Tensor& input) {
    c10::IValue result;
    try {
      result = scripted_.forward({input});
    } catch (const c10::Error& e) {
      throw std::runtime_error(where_ + ": the scripted forward failed on a batch " + batch_shape_string(input) + ":\n" +
                               first_lines(e.what_without_backtrace(), 16));
    } catch (const std::exception& e) {  // the interpreter's JITException, with the TorchScript traceback
      throw std::runtime_error(where_ + ": the scripted forward failed on a batch " + batch_shape_string(input) + ":\n" +
                               first_lines(e.what(), 16));
    }
    if (!result.isTensor())
      throw std::runtime_error(where_ + ": forward returned a " + result.tagKind() + ", not a tensor of features");
    return result.toTensor();
  }

  // One sample batch of the modality's shape (zeros: dense values or token id 0), in eval mode and without
  // gradients, so that a wrong module is refused at validate with its own error, before any compute.
  sdk::FeatureSpec probe() {
    std::vector<int64_t> shape{2};
    shape.insert(shape.end(), input_.shape.begin(), input_.shape.end());
    const at::Tensor sample = at::zeros(shape, at::TensorOptions().dtype(input_.kind == sdk::InputKind::Tokens ? at::kLong : at::kFloat));
    const bool was_training = scripted_.is_training();
    scripted_.eval();
    torch::NoGradGuard no_grad;
    at::Tensor out;
    try {
      out = call(sample);
    } catch (...) {
      scripted_.train(was_training);
      throw;
    }
    scripted_.train(was_training);
    if ((out.dim() != 2 && out.dim() != 3) || out.size(0) != 2 || !at::isFloatingType(out.scalar_type()))
      throw std::invalid_argument(where_ + ": on a sample batch " + batch_shape_string(sample) + " forward returned " +
                                  batch_shape_string(out) + " of " + std::string(c10::toString(out.scalar_type())) +
                                  "; an encoder returns floating features [B, D] or tokens [B, T, D]");
    return out.dim() == 2 ? sdk::FeatureSpec{out.size(1), false, 0} : sdk::FeatureSpec{out.size(2), true, out.size(1)};
  }

  torch::jit::Module scripted_;
  sdk::ModalitySpec input_;
  std::string where_;
  sdk::FeatureSpec output_;
};

std::shared_ptr<sdk::Encoder> make(const sdk::BuildArgs& args) {
  const auto& input = encoded_modality(args, kName);
  const std::string where = std::string(kName) + " (modality '" + input.name + "')";
  const Config c = sdk::bind<Config>(args.options);
  torch::jit::Module scripted;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(c.path, ec))
    throw std::invalid_argument(where + ": no TorchScript file '" + c.path + "' (relative paths are to the working directory, " +
                                std::filesystem::current_path().string() + ")");
  try {
    scripted = torch::jit::load(c.path, at::kCPU);
  } catch (const c10::Error& e) {
    throw std::invalid_argument(where + ": cannot load the TorchScript file '" + c.path + "' (save it with torch.jit.save of a "
                                "scripted or traced module): " + first_lines(e.what_without_backtrace(), 3));
  }
  // Tensors read from the archive keep the reader's storage (its DataPtr context is not the allocator's own), which
  // some kernels assert against (Debian's 1.13 convolution: "dptr.get() == dptr.get_context()"): own them.
  for (const auto& p : scripted.named_parameters()) p.value.set_data(p.value.detach().clone());
  for (const auto& b : scripted.named_buffers()) b.value.set_data(b.value.detach().clone());
  if (!scripted.find_method("forward"))
    throw std::invalid_argument(where + ": '" + c.path + "' has no forward method");
  return std::make_shared<TorchScriptEncoder>(std::move(scripted), input, where);
}

}  // namespace

void register_torchscript_encoder(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "torchscript";
  d.doc = "An encoder defined in Python: a TorchScript module (torch.jit.save) trained or frozen like any encoder, its "
          "parameters under their Python names; no attention sites (its attention runs inside the scripted module)";
  d.schema = sdk::schema_of<Config>();
  r.add_encoder(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
