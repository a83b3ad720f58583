#include "train/replica_check.hpp"

#include <ATen/ATen.h>

namespace mmdebias::core {
namespace {

// Two int64 per gradient from its bytes: their sum and a position-weighted sum (wrapping), so that any change of a
// bit, or two values swapped, changes the digest. An undefined gradient digests as (-1, -1). Computed where the
// gradient is (a GPU's stays there; all of them come back in the one gather).
at::Tensor digest(const at::Tensor& grad, c10::Device device) {
  if (!grad.defined()) return at::full({2}, -1, at::TensorOptions(at::kLong).device(device));
  at::Tensor bytes = grad.detach().contiguous().view({-1}).view(at::kByte).to(at::kLong);
  at::Tensor weights = at::arange(bytes.numel(), bytes.options()).remainder(65521).add(1);
  return at::stack({bytes.sum(), (bytes * weights).sum()}).to(device);
}

}  // namespace

std::string replica_mismatch(const std::vector<NamedParameter>& parameters, Collective& collective) {
  if (collective.world_size() == 1 || parameters.empty()) return "";
  std::vector<at::Tensor> rows;
  rows.reserve(parameters.size());
  const c10::Device device = parameters.front().second.device();
  for (const auto& p : parameters) rows.push_back(digest(p.second.grad(), device));
  const int64_t n = static_cast<int64_t>(parameters.size());
  at::Tensor all = collective.all_gather(at::stack(rows)).view({collective.world_size(), n, 2}).cpu();
  at::Tensor differs = all.ne(all[0].unsqueeze(0)).any(2);  // [world, n]: rank r's digest of parameter i is not rank 0's
  if (!differs.any().item<bool>()) return "";
  at::Tensor first = differs.any(0).nonzero()[0][0];
  const int64_t i = first.item<int64_t>();
  std::string ranks;
  for (int64_t r = 1; r < collective.world_size(); ++r)
    if (differs[r][i].item<bool>()) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  return "the gradient of " + parameters[static_cast<size_t>(i)].first + " differs between rank 0 and rank " + ranks;
}

}  // namespace mmdebias::core
