// std.resnet: the ResNet-18/34 backbones of the multimodal-balancing literature (OGM-GE, PMR, AGM, ARL use
// ResNet-18 for audio spectrograms and video frames), with torchvision's module layout and parameter names
// (conv1, bn1, layer1.0.conv1, ..., layer2.0.downsample.0) so that torchvision's state dict loads by name.
// Images [H, W] or [C, H, W] give the pooled 512-d features; frames [T, C, H, W] run the 2D network per frame
// and average over time and space, as OGM-GE's visual encoder pools its [B, 512, T, h, w] map.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.resnet";
constexpr int64_t kWidth = 512;  // channels after layer4 for the BasicBlock depths

/// The options of std.resnet.
struct Config {
  int64_t depth = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("depth", &Config::depth, 18, "18 or 34: torchvision's resnet18 / resnet34 (BasicBlock, [2,2,2,2] / [3,4,6,3])")
        .range(18, 34);
  }
};

/// A 3x3 (or 1x1) convolution without bias, as torchvision builds them.
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

/// torchvision's BasicBlock: conv-bn-relu-conv-bn plus the (downsampled) input, then relu.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(register_module("conv1", conv(in, out, 3, stride))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(out))),
        conv2(register_module("conv2", conv(out, out, 3, 1))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out)
      downsample = register_module("downsample", torch::nn::Sequential(conv(in, out, 1, stride), torch::nn::BatchNorm2d(out)));
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = bn2(conv2(at::relu(bn1(conv1(x)))));
    return at::relu(y + (downsample ? downsample->forward(x) : x));
  }

  torch::nn::Conv2d conv1, conv2;
  torch::nn::BatchNorm2d bn1, bn2;
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

/// conv1 (7x7, stride 2) - bn1 - relu - maxpool (3x3, stride 2) - layer1..4 - global average pool.
class ResNetEncoder : public sdk::Encoder {
 public:
  ResNetEncoder(std::vector<int64_t> shape, int64_t depth) : shape_(std::move(shape)) {
    const int64_t channels = shape_.size() == 2 ? 1 : shape_[shape_.size() - 3];
    conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 64, 7).stride(2).padding(3).bias(false)));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(64));
    const std::vector<int64_t> blocks = depth == 18 ? std::vector<int64_t>{2, 2, 2, 2} : std::vector<int64_t>{3, 4, 6, 3};
    int64_t in = 64;
    for (size_t i = 0; i < 4; ++i) {
      const int64_t out = 64 << i;
      torch::nn::Sequential layer;
      for (int64_t b = 0; b < blocks[i]; ++b) {
        layer->push_back(BasicBlock(in, out, b == 0 && i > 0 ? 2 : 1));
        in = out;
      }
      layers_.push_back(register_module("layer" + std::to_string(i + 1), layer));
    }
    initialise();
  }

  sdk::FeatureSpec output() const override { return {kWidth, false, 0}; }

  at::Tensor encode(const at::Tensor& input, const sdk::AttentionSites&) override {
    check_input_shape(input, shape_, kName);
    at::Tensor x = input.to(conv1_->weight.scalar_type());
    if (shape_.size() == 2) x = x.unsqueeze(1);
    if (shape_.size() == 4) x = x.flatten(0, 1);  // [B, T, C, H, W] -> [B·T, C, H, W]: one image per frame
    x = at::max_pool2d(at::relu(bn1_->forward(conv1_->forward(x))), {3, 3}, {2, 2}, {1, 1});
    for (auto& layer : layers_) x = layer->forward(x);
    x = x.mean({2, 3});                             // [B·T, 512]
    // The mean over frames (one "frame" for images); the batch dimension stays -1 so that a traced export
    // (mmdebias export) serves any batch size.
    return x.view({-1, shape_.size() == 4 ? shape_[0] : 1, kWidth}).mean(1);
  }

 private:
  /// torchvision's initialisation: Kaiming-normal (fan_out, relu) convolutions, batch norms at identity.
  void initialise() {
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>())
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      else if (auto* b = m->as<torch::nn::BatchNorm2d>()) {
        b->weight.fill_(1.0);
        b->bias.zero_();
      }
    }
  }

  std::vector<int64_t> shape_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> layers_;
};

std::shared_ptr<sdk::Encoder> make(const sdk::BuildArgs& args) {
  const auto& input = encoded_modality(args, kName);
  const std::string where = std::string(kName) + " (modality '" + input.name + "')";
  if (input.kind != sdk::InputKind::Dense)
    throw std::invalid_argument(where + " needs dense images or frames, but the modality gives token ids; use std.tokens for it");
  if (input.shape.size() < 2 || input.shape.size() > 4)
    throw std::invalid_argument(where + " needs images [H, W] or [C, H, W], or frames [T, C, H, W], but the modality's shape is " +
                                shape_string(input.shape));
  for (int64_t s : input.shape)
    if (s < 1) throw std::invalid_argument(where + ": empty shape " + shape_string(input.shape));
  const Config c = sdk::bind<Config>(args.options);
  if (c.depth != 18 && c.depth != 34)
    throw std::invalid_argument(where + ": depth must be 18 or 34 (the BasicBlock ResNets), got " + std::to_string(c.depth));
  return std::make_shared<ResNetEncoder>(input.shape, c.depth);
}

}  // namespace

void register_resnet_encoder(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "resnet";
  d.doc = "ResNet-18/34 with torchvision's layout and parameter names, for images [H, W] / [C, H, W] (pooled 512-d) "
          "or frames [T, C, H, W] (per frame, then the mean over time)";
  d.schema = sdk::schema_of<Config>();
  r.add_encoder(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
