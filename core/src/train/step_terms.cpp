#include "train/step_terms.hpp"

#include <csignal>
#include <set>
#include <sstream>

#include <ATen/ATen.h>

namespace mmdebias::core {
namespace {

// Fixed slots before the per-name pairs.
enum Slot : size_t { kTotal, kMicroBatches, kSigterm, kSigint, kUnseen, kFixed };

}  // namespace

int StopVote::signal() const { return sigterm ? SIGTERM : sigint ? SIGINT : 0; }

void StepTerms::add(double total, const std::vector<std::pair<std::string, double>>& terms) {
  total_ += total;
  micro_batches_ += 1;
  for (const auto& [name, value] : terms) {
    auto& [sum, count] = sums_[name];
    sum += value;
    count += 1;
  }
}

std::vector<std::string> StepTerms::unseen_names() const {
  std::vector<std::string> out;
  for (const auto& kv : sums_)
    if (!position_.count(kv.first)) out.push_back(kv.first);
  return out;
}

void StepTerms::append_to_layout(const std::string& name) {
  position_.emplace(name, layout_.size());
  layout_.push_back(name);
}

std::vector<double> StepTerms::pack(int local_stop_signal) {
  std::vector<double> v(kFixed + 2 * layout_.size(), 0.0);
  v[kTotal] = total_;
  v[kMicroBatches] = micro_batches_;
  v[kSigterm] = local_stop_signal == SIGTERM ? 1.0 : 0.0;
  v[kSigint] = local_stop_signal == SIGINT ? 1.0 : 0.0;
  for (const auto& [name, sum_count] : sums_) {
    auto at = position_.find(name);
    if (at == position_.end()) {
      v[kUnseen] += 1;  // agreed on in unpack: after the reduction, every rank knows whether any rank has one
      continue;
    }
    v[kFixed + 2 * at->second] = sum_count.first;
    v[kFixed + 2 * at->second + 1] = sum_count.second;
  }
  return v;
}

StepTotals StepTerms::unpack(const std::vector<double>& reduced, Collective& collective) {
  std::vector<double> pairs(reduced.begin() + kFixed, reduced.end());
  if (reduced[kUnseen] > 0) {
    // Some rank added a term no rank had agreed on: every rank learns every such name (sorted, so the order is
    // the same everywhere), then their values are summed in one more reduction (both the identity alone).
    std::ostringstream mine;
    for (const auto& name : unseen_names()) mine << name << '\n';
    std::set<std::string> fresh;
    for (const std::string& text : all_gather_strings(collective, mine.str())) {
      std::istringstream lines(text);
      for (std::string name; std::getline(lines, name);) fresh.insert(name);
    }
    at::Tensor extra = at::zeros({static_cast<int64_t>(2 * fresh.size())}, at::kDouble);
    size_t i = 0;
    for (const auto& name : fresh) {
      if (auto it = sums_.find(name); it != sums_.end()) {
        extra[static_cast<int64_t>(2 * i)] = it->second.first;
        extra[static_cast<int64_t>(2 * i + 1)] = it->second.second;
      }
      append_to_layout(name);
      ++i;
    }
    collective.all_reduce_sum(extra);
    for (int64_t j = 0; j < extra.numel(); ++j) pairs.push_back(extra[j].item<double>());
  }
  StepTotals out;
  out.loss = reduced[kTotal] / reduced[kMicroBatches];
  out.stop = StopVote{reduced[kSigterm] > 0, reduced[kSigint] > 0};
  for (size_t i = 0; i < layout_.size(); ++i)
    if (pairs[2 * i + 1] > 0) out.terms[layout_[i]] = pairs[2 * i] / pairs[2 * i + 1];
  total_ = 0;
  micro_batches_ = 0;
  sums_.clear();
  return out;
}

}  // namespace mmdebias::core
