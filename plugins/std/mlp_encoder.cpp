// std.mlp: a multilayer perceptron over dense input of any per-sample shape, flattened.
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.mlp";

/// The options of std.mlp.
struct Config {
  std::vector<int64_t> hidden;
  int64_t out_dim = 0;
  std::string activation;
  double dropout = 0;
  bool layer_norm = false;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("hidden", &Config::hidden, {128}, "Widths of the hidden layers, in order (empty: a single linear map)").at_least(1);
    b.option("out_dim", &Config::out_dim, 64, "Width of the output features").at_least(1);
    b.choice("activation", &Config::activation, "relu", {"relu", "gelu", "tanh"}, "Activation after each hidden layer");
    b.option("dropout", &Config::dropout, 0.0, "Dropout probability after each hidden activation").range(0.0, 1.0);
    b.option("layer_norm", &Config::layer_norm, false, "Layer-normalise each hidden layer before its activation");
  }
};

/// Applies the named activation ("relu", "gelu", "tanh").
at::Tensor activate(const at::Tensor& x, const std::string& kind) {
  if (kind == "gelu") return at::gelu(x);
  if (kind == "tanh") return at::tanh(x);
  return at::relu(x);
}

class MlpEncoder : public sdk::Encoder {
 public:
  MlpEncoder(const sdk::ModalitySpec& input, const std::vector<int64_t>& hidden, int64_t out_dim, std::string activation,
             double dropout, bool layer_norm)
      : shape_(input.shape), out_dim_(out_dim), activation_(std::move(activation)), dropout_(dropout) {
    int64_t width = std::accumulate(shape_.begin(), shape_.end(), int64_t{1}, std::multiplies<int64_t>());
    for (size_t i = 0; i < hidden.size(); ++i) {
      layers_.push_back(register_module("linear" + std::to_string(i), torch::nn::Linear(width, hidden[i])));
      if (layer_norm)
        norms_.push_back(register_module("norm" + std::to_string(i),
                                         torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden[i]}))));
      width = hidden[i];
    }
    out_ = register_module("out", torch::nn::Linear(width, out_dim));
  }

  sdk::FeatureSpec output() const override { return {out_dim_, false, 0}; }

  at::Tensor encode(const at::Tensor& input, const sdk::AttentionSites&) override {
    check_input_shape(input, shape_, kName);
    at::Tensor x = input.flatten(1).to(out_->weight.scalar_type());
    for (size_t i = 0; i < layers_.size(); ++i) {
      x = layers_[i]->forward(x);
      // In fp32 under every precision: under bf16 autocast LibTorch 1.13's CPU layer_norm refuses a bf16 input with
      // fp32 weights, and a bf16 normalisation keeps 8 bits. The next linear layer computes in bf16 again.
      if (!norms_.empty()) {
        sdk::FullPrecision full;
        x = norms_[i]->forward(sdk::fp32(x));
      }
      x = activate(x, activation_);
      if (dropout_ > 0) x = at::dropout(x, dropout_, is_training());  // p = 0 returns x: skip the dispatch
    }
    return out_->forward(x);
  }

 private:
  std::vector<int64_t> shape_;
  int64_t out_dim_;
  std::string activation_;
  double dropout_;
  std::vector<torch::nn::Linear> layers_;
  std::vector<torch::nn::LayerNorm> norms_;
  torch::nn::Linear out_{nullptr};
};

std::shared_ptr<sdk::Encoder> make(const sdk::BuildArgs& args) {
  const auto& input = encoded_modality(args, kName);
  if (input.kind != sdk::InputKind::Dense)
    throw std::invalid_argument(std::string(kName) + " needs dense input, but modality '" + input.name +
                                "' gives token ids " + shape_string(input.shape) + "; use std.tokens for it");
  for (int64_t s : input.shape)
    if (s < 1)
      throw std::invalid_argument(std::string(kName) + ": modality '" + input.name + "' has an empty shape " +
                                  shape_string(input.shape));
  const Config c = sdk::bind<Config>(args.options);
  return std::make_shared<MlpEncoder>(input, c.hidden, c.out_dim, c.activation, c.dropout, c.layer_norm);
}

}  // namespace

void register_mlp_encoder(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "mlp";
  d.doc = "Multilayer perceptron over dense input of any shape (flattened) -> pooled [B, out_dim] features";
  d.schema = sdk::schema_of<Config>();
  r.add_encoder(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
