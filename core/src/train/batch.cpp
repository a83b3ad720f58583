// collate(): stacks samples into a sdk::Batch, refusing samples that disagree on their modalities; and the
// checks of a batch a dataset filled itself (Dataset::get_batch); and where
// a batch's inputs are not finite.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <cstring>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "train/batch.hpp"

namespace mmdebias::core {
namespace {

std::string shape_text(const at::Tensor& t) {
  std::ostringstream s;
  s << '[';
  for (int64_t d = 0; d < t.dim(); ++d) s << (d ? ", " : "") << t.size(d);
  s << ']';
  return s.str();
}

std::string modality_names(const sdk::Sample& s) {
  std::string out;
  for (const auto& [name, t] : s.inputs) out += (out.empty() ? "'" : ", '") + name + "'";
  return out.empty() ? "none" : out;
}

[[noreturn]] void refuse(size_t pos, int64_t index, const std::string& what) {
  throw std::invalid_argument("collate: sample " + std::to_string(pos) + " (dataset index " + std::to_string(index) +
                              ") " + what);
}

// Checks that sample pos has exactly the modalities of sample 0, each with the same shape, dtype and device.
void check_like_first(const std::vector<sdk::Sample>& samples, const std::vector<int64_t>& indices, size_t pos) {
  const sdk::Sample& first = samples[0];
  const sdk::Sample& s = samples[pos];
  const std::string ref = " (sample 0, dataset index " + std::to_string(indices[0]) + ")";
  for (const auto& [name, t0] : first.inputs) {
    auto it = s.inputs.find(name);
    if (it == s.inputs.end())
      refuse(pos, indices[pos], "lacks modality '" + name + "' that sample 0 has; it has " + modality_names(s));
    const at::Tensor& t = it->second;
    if (!t.defined()) refuse(pos, indices[pos], "has an undefined tensor for modality '" + name + "'");
    if (!t.sizes().equals(t0.sizes()))
      refuse(pos, indices[pos],
             "has modality '" + name + "' of shape " + shape_text(t) + " but shape " + shape_text(t0) + ref);
    if (t.scalar_type() != t0.scalar_type())
      refuse(pos, indices[pos],
             "has modality '" + name + "' of dtype " + std::string(c10::toString(t.scalar_type())) + " but dtype " +
                 c10::toString(t0.scalar_type()) + ref);
    if (t.device() != t0.device())
      refuse(pos, indices[pos],
             "has modality '" + name + "' on device " + t.device().str() + " but on " + t0.device().str() + ref);
  }
  if (s.inputs.size() != first.inputs.size()) {
    for (const auto& [name, t] : s.inputs)
      if (!first.inputs.count(name))
        refuse(pos, indices[pos], "has modality '" + name + "' that sample 0 lacks; sample 0 has " + modality_names(first));
  }
}

// at::stack, or for contiguous CPU samples (shapes and dtypes already checked alike) one allocation and a
// memcpy per sample: stack was over a quarter of the loader's CPU time on small samples (perf, bench/run section 1).
at::Tensor stack_samples(const std::vector<at::Tensor>& parts, BufferPool* pool) {
  const at::Tensor& first = parts[0];
  for (const auto& t : parts)
    if (!t.device().is_cpu() || !t.is_contiguous() || t.is_neg() || t.is_conj() || t.requires_grad()) return at::stack(parts, 0);
  std::vector<int64_t> shape{static_cast<int64_t>(parts.size())};
  shape.insert(shape.end(), first.sizes().begin(), first.sizes().end());
  at::Tensor out = pool ? pool->empty(shape, first.scalar_type()) : at::empty(shape, first.options());
  const size_t bytes = static_cast<size_t>(first.numel()) * first.element_size();
  auto* dst = static_cast<char*>(out.data_ptr());
  // In parallel (in the caller's TBB arena: the loader's threads) where a batch is large: decoded frames make batches
  // of ~100 MB, whose copy and first touch of fresh pages a single thread spends ~10% of an epoch on.
  tbb::parallel_for(tbb::blocked_range<size_t>(0, parts.size(), bytes >= (64 << 10) ? 1 : parts.size()),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t i = r.begin(); i != r.end(); ++i) std::memcpy(dst + i * bytes, parts[i].data_ptr(), bytes);
                    });
  return out;
}

}  // namespace

sdk::Batch collate(const std::vector<sdk::Sample>& samples, const std::vector<int64_t>& indices, BufferPool* pool) {
  if (samples.empty()) throw std::invalid_argument("collate: no samples");
  if (samples.size() != indices.size())
    throw std::invalid_argument("collate: " + std::to_string(samples.size()) + " samples but " +
                                std::to_string(indices.size()) + " indices");
  for (const auto& [name, t] : samples[0].inputs)
    if (!t.defined()) refuse(0, indices[0], "has an undefined tensor for modality '" + name + "'");
  for (size_t i = 1; i < samples.size(); ++i) check_like_first(samples, indices, i);

  const auto n = static_cast<int64_t>(samples.size());
  sdk::Batch batch;
  std::vector<at::Tensor> parts(samples.size());
  for (const auto& [name, t0] : samples[0].inputs) {
    for (size_t i = 0; i < samples.size(); ++i) parts[i] = samples[i].inputs.at(name);
    batch.inputs.emplace(name, stack_samples(parts, pool));
  }
  batch.label = at::empty({n}, at::kLong);
  batch.group = at::empty({n}, at::kLong);
  batch.environment = at::empty({n}, at::kLong);
  batch.ood = at::empty({n}, at::kBool);
  batch.index = at::empty({n}, at::kLong);
  auto* label = batch.label.data_ptr<int64_t>();
  auto* group = batch.group.data_ptr<int64_t>();
  auto* env = batch.environment.data_ptr<int64_t>();
  auto* ood = batch.ood.data_ptr<bool>();
  auto* index = batch.index.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const sdk::Sample& s = samples[static_cast<size_t>(i)];
    label[i] = s.label;
    group[i] = s.group;
    env[i] = s.environment;
    ood[i] = s.ood;
    index[i] = indices[static_cast<size_t>(i)];
  }
  return batch;
}

void complete_batch(sdk::Batch& batch, const std::vector<int64_t>& indices) {
  const auto n = static_cast<int64_t>(indices.size());
  auto check = [&](const std::string& what, at::Tensor& t, std::optional<at::ScalarType> dtype) {
    auto bad = [&](const std::string& why) {
      throw std::invalid_argument("Dataset::get_batch gave " + what + " " + why + " for a batch of " +
                                  std::to_string(n) + " samples");
    };
    if (!t.defined()) bad("undefined");
    if (t.dim() < 1 || t.size(0) != n) bad("of shape " + shape_text(t));
    if (dtype && t.scalar_type() != *dtype)
      bad("of dtype " + std::string(c10::toString(t.scalar_type())) + " (not " + c10::toString(*dtype) + ")");
    // A dataset that selected under InferenceMode gives inference tensors, which autograd cannot save.
    if (t.is_inference()) t = t.clone();
  };
  for (auto& [name, t] : batch.inputs) check("modality '" + name + "'", t, std::nullopt);
  check("label", batch.label, at::kLong);
  check("group", batch.group, at::kLong);
  check("environment", batch.environment, at::kLong);
  check("ood", batch.ood, at::kBool);
  batch.index = at::empty({n}, at::kLong);
  if (n > 0) std::memcpy(batch.index.data_ptr<int64_t>(), indices.data(), static_cast<size_t>(n) * sizeof(int64_t));
}

sdk::Batch empty_like(const sdk::Batch& batch) {
  auto none = [](const at::Tensor& t) { return t.defined() ? t.narrow(0, 0, 0).clone() : t; };
  sdk::Batch out;
  for (const auto& [name, t] : batch.inputs) out.inputs.emplace(name, none(t));
  out.label = none(batch.label);
  out.group = none(batch.group);
  out.environment = none(batch.environment);
  out.ood = none(batch.ood);
  out.index = none(batch.index);
  return out;
}

std::string first_non_finite_input(const std::map<std::string, at::Tensor>& inputs, const at::Tensor& index) {
  for (const auto& [name, x] : inputs) {
    if (!x.is_floating_point() || x.dim() == 0 || x.size(0) == 0) continue;
    const at::Tensor rows = x.detach().reshape({x.size(0), -1});
    const at::Tensor bad = at::isfinite(rows).logical_not();
    const int64_t count = bad.sum().item<int64_t>();
    if (count == 0) continue;
    const int64_t row = bad.any(1).nonzero()[0][0].item<int64_t>();
    const double value = rows[row].masked_select(bad[row])[0].item<double>();
    const int64_t sample = index.defined() && index.numel() > row ? index[row].item<int64_t>() : row;
    std::ostringstream out;
    out << "input '" << name << "' of sample " << sample << " holds " << value;
    if (count > 1) out << " (" << count << " non-finite values in this batch)";
    return out.str();
  }
  return {};
}

}  // namespace mmdebias::core
