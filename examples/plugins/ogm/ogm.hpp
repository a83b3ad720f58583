// ogm.modulation: OGM-GE, on-the-fly gradient modulation with generalisation enhancement (Peng et al., "Balanced
// Multimodal Learning via On-the-fly Gradient Modulation", CVPR 2022), for two modalities, as an out-of-tree mmdebias
// plugin. Each step it measures how well each modality alone predicts the labels of the step's batch,
//   s_m = sum over samples i of softmax(out_m(i))[y_i]          (out_m: the fusion's per-modality logits)
//   rho_m = s_m / s_other,
// damps the gradient of the dominant modality's encoder (rho_m > 1) by k_m = 1 - tanh(alpha * rho_m), leaves the
// other's at k = 1, and (GE) adds Gaussian noise of the gradient's own standard deviation to both encoders':
//   g <- k_m * g + N(0, std(g) + 1e-8).
// It runs at hook 7 (after_backward): after the host averaged gradients over ranks and before clipping and the
// optimizer step, as the released code modulates unclipped gradients before optimizer.step().
//
// Where it differs from the released code (GeWu-Lab/OGM-GE_CVPR2022, main.py), and why:
// - the released code modulates the 4-D (convolution) weights of each encoder only, a choice tied to its ResNet
//   backbones; here every parameter of the modality's encoder is modulated, whatever the encoder;
// - out_m there is z_m W_m^T + b/2 (half the concat head's bias per modality); here it is the fusion's own
//   per-modality logits (std.concat: z_m W_m^T + b), so the scores differ where the bias is not uniform over classes;
// - the scores are summed over every micro-batch and rank of the step: the coefficient of the global batch, as the
//   released code's single-process DataParallel computes it;
// - the noise comes from the host's rank-shared stream, so every rank adds the same noise to the same averaged
//   gradient (per-rank noise would make the replicas diverge; run.check_replicas catches that).
// The paper and the code apply it to two modalities (audio, visual); so does this (the factory refuses others).
//
// In a header so that test_ogm.cpp builds and tests the component without the host (mmdebias/sdk/testing.hpp).
#pragma once

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/sdk.hpp"

namespace ogm_plugin {

using namespace mmdebias::sdk;

/// The options, each declared once.
struct Config {
  double alpha = 0;
  std::string mode;
  int64_t start_epoch = 0, end_epoch = 0;

  static void declare(OptionBinder<Config>& b) {
    // The released code makes alpha a required argument and the paper tunes it per dataset: no default here either.
    b.required("alpha", &Config::alpha, "modulation strength: the dominant modality's gradient is scaled by 1 - tanh(alpha * rho)")
        .at_least(0);
    b.choice("mode", &Config::mode, "ogm_ge", {"ogm_ge", "ogm"}, "ogm_ge: scale and add noise (GE); ogm: scale only");
    b.option("start_epoch", &Config::start_epoch, 0, "first epoch (from 0) whose steps are modulated").at_least(0);
    b.option("end_epoch", &Config::end_epoch, 50, "last epoch (inclusive) whose steps are modulated").at_least(0);
  }
};

/// The coefficients of one step from the two modalities' summed scores: {k_0, k_1}. The released code tests the
/// second modality's ratio first, so at rho = 1 exactly it damps the first; kept.
inline std::vector<double> coefficients(double score0, double score1, double alpha) {
  const double rho1 = score1 / score0, rho0 = score0 / score1;
  if (rho1 > 1) return {1.0, 1.0 - std::tanh(alpha * rho1)};
  return {1.0 - std::tanh(alpha * rho0), 1.0};
}

class Modulation : public Intervention {
 public:
  explicit Modulation(Config config) : c_(std::move(config)) {}
  uint32_t hooks() const override { return kAfterBackward; }

  void after_backward(const StepRecords& step, Model& model, Context& ctx) override {
    const std::vector<std::string>& modalities = model.modalities();
    // s_m over every micro-batch of the step on every rank: the coefficient then is the one of the global batch,
    // and every rank computes the same one (the gradients it scales are already averaged and must stay equal).
    double local[2] = {0, 0};
    for (const auto& micro : step.micro_batches)
      for (int m = 0; m < 2; ++m) {
        const at::Tensor& logits = micro.record.modality_logits.at(modalities[m]);
        local[m] += at::softmax(logits.to(at::kDouble), 1).gather(1, micro.batch.label.unsqueeze(1)).sum().item<double>();
      }
    at::Tensor scores = at::tensor({local[0], local[1]}, at::kDouble).to(ctx.device());
    ctx.all_reduce_sum(scores);
    const double s0 = scores[0].item<double>(), s1 = scores[1].item<double>();
    if (!(s0 > 0 && s1 > 0)) return;  // no sample this step on any rank
    const std::vector<double> k = coefficients(s0, s1, c_.alpha);
    ctx.metric("ratio", s0 / s1);
    for (int m = 0; m < 2; ++m) ctx.metric("coefficient/" + modalities[m], k[m]);
    if (ctx.epoch() < c_.start_epoch || ctx.epoch() > c_.end_epoch) return;
    // The same draws on every rank (ctx.shared_rng), in a fixed order: modality, then parameter.
    at::Generator& gen = ctx.shared_rng("noise");
    for (int m = 0; m < 2; ++m)
      for (auto& p : model.encoder(modalities[m]).parameters()) {
        if (!p.grad().defined()) continue;
        at::Tensor g = p.grad();
        if (c_.mode == "ogm") {
          g.mul_(k[m]);
          continue;
        }
        const double sd = (g.numel() > 1 ? g.std().item<double>() : 0.0) + 1e-8;
        at::Tensor noise = at::empty(g.sizes(), at::kFloat).normal_(0, sd, gen);
        g.mul_(k[m]).add_(noise.to(g.device(), g.scalar_type()));
      }
  }

 private:
  Config c_;
};

/// Declares ogm.modulation; it reads the fusion's per-modality logits, so it needs a fusion that gives them.
inline void register_components(Registrar& r) {
  ComponentDecl decl{"modulation", "OGM-GE: damps the dominant modality's encoder gradient by 1 - tanh(alpha * rho) and adds noise",
                     schema_of<Config>(), {capability::kModalityLogits}, {}};
  r.add_intervention(std::move(decl), [](const BuildArgs& a) {
    if (a.model.inputs.size() != 2)
      throw std::invalid_argument("ogm.modulation compares two modalities; the dataset has " + std::to_string(a.model.inputs.size()));
    Config c = bind<Config>(a.options);
    if (c.end_epoch < c.start_epoch) throw std::invalid_argument("ogm.modulation: end_epoch is before start_epoch");
    return std::make_shared<Modulation>(std::move(c));
  });
}

}  // namespace ogm_plugin
