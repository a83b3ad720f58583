// std.conv2d: a small convolutional network for images [H, W] or [C, H, W].
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.conv2d";

/// The options of std.conv2d.
struct Config {
  std::vector<int64_t> channels;
  int64_t kernel = 0, out_dim = 0;
  double dropout = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("channels", &Config::channels, {16, 32}, "Output channels of each conv block, in order").at_least(1);
    b.option("kernel", &Config::kernel, 3, "Square convolution kernel size (odd sizes keep the map size)").range(1, 15);
    b.option("out_dim", &Config::out_dim, 64, "Width of the output features").at_least(1);
    b.option("dropout", &Config::dropout, 0.0, "Dropout probability before the final linear layer").range(0.0, 1.0);
  }
};

/// Conv-ReLU-MaxPool(2) blocks (no pooling once the map is 1x1), global average pool, linear to out_dim.
class Conv2dEncoder : public sdk::Encoder {
 public:
  Conv2dEncoder(const std::vector<int64_t>& shape, const std::vector<int64_t>& channels, int64_t kernel,
                int64_t out_dim, double dropout)
      : shape_(shape), out_dim_(out_dim), dropout_(dropout) {
    int64_t c = shape.size() == 3 ? shape[0] : 1;
    int64_t h = shape[shape.size() - 2], w = shape[shape.size() - 1];
    const int64_t pad = kernel / 2;
    for (size_t i = 0; i < channels.size(); ++i) {
      convs_.push_back(register_module(
          "conv" + std::to_string(i), torch::nn::Conv2d(torch::nn::Conv2dOptions(c, channels[i], kernel).padding(pad))));
      c = channels[i];
      h = h + 2 * pad - kernel + 1;
      w = w + 2 * pad - kernel + 1;
      // Pool by 2 along each side longer than 1; skip pooling when the map is already 1x1.
      std::vector<int64_t> pool = {std::min<int64_t>(2, h), std::min<int64_t>(2, w)};
      pools_.push_back(pool);
      h /= pool[0];
      w /= pool[1];
    }
    out_ = register_module("out", torch::nn::Linear(c, out_dim));
  }

  sdk::FeatureSpec output() const override { return {out_dim_, false, 0}; }

  at::Tensor encode(const at::Tensor& input, const sdk::AttentionSites&) override {
    check_input_shape(input, shape_, kName);
    at::Tensor x = input.to(out_->weight.scalar_type());
    if (shape_.size() == 2) x = x.unsqueeze(1);
    for (size_t i = 0; i < convs_.size(); ++i) {
      x = at::relu(convs_[i]->forward(x));
      if (pools_[i][0] > 1 || pools_[i][1] > 1) x = at::max_pool2d(x, pools_[i], pools_[i]);
    }
    x = x.mean({2, 3});  // global average pool -> [B, C]
    return out_->forward(at::dropout(x, dropout_, is_training()));
  }

 private:
  std::vector<int64_t> shape_;
  int64_t out_dim_;
  double dropout_;
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<std::vector<int64_t>> pools_;
  torch::nn::Linear out_{nullptr};
};

std::shared_ptr<sdk::Encoder> make(const sdk::BuildArgs& args) {
  const auto& input = encoded_modality(args, kName);
  const std::string where = std::string(kName) + " (modality '" + input.name + "')";
  if (input.kind != sdk::InputKind::Dense)
    throw std::invalid_argument(where + " needs dense images [H, W] or [C, H, W], but the modality gives token ids; use std.tokens for it");
  if (input.shape.size() != 2 && input.shape.size() != 3)
    throw std::invalid_argument(where + " needs images [H, W] or [C, H, W], but the modality's shape is " +
                                shape_string(input.shape) + "; use std.mlp for other shapes");
  for (int64_t s : input.shape)
    if (s < 1) throw std::invalid_argument(where + ": empty image shape " + shape_string(input.shape));
  const Config c = sdk::bind<Config>(args.options);
  return std::make_shared<Conv2dEncoder>(input.shape, c.channels, c.kernel, c.out_dim, c.dropout);
}

}  // namespace

void register_conv2d_encoder(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "conv2d";
  d.doc = "Small CNN for images [H, W] or [C, H, W]: conv-ReLU-maxpool blocks, global average pool, linear";
  d.schema = sdk::schema_of<Config>();
  r.add_encoder(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
