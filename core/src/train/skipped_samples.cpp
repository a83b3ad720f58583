#include "train/skipped_samples.hpp"

#include <stdexcept>

namespace mmdebias::core {

void SkippedSamples::add(const std::string& split, int64_t index, const std::string& error) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = by_split_[split].emplace(index, error).second;
  }
  if (first && first_seen_)
    first_seen_("on_bad_sample: skip: left out sample " + std::to_string(index) + " of '" + split + "' (and will every time it "
                "comes up): " + error);
}

int64_t SkippedSamples::count(const std::string& split) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_split_.find(split);
  return it == by_split_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

nlohmann::json SkippedSamples::to_json(size_t listed) const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [split, samples] : by_split_) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [index, error] : samples) {
      if (list.size() >= listed) break;
      list.push_back({{"index", index}, {"error", error}});
    }
    out[split] = {{"count", samples.size()}, {"samples", std::move(list)}};
  }
  return out;
}

void SkippedSamples::merge(const nlohmann::json& record) {
  if (!record.is_object()) throw std::invalid_argument("skipped samples: expected an object of splits");
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [split, entry] : record.items())
    for (const auto& sample : entry.at("samples"))
      by_split_[split].emplace(sample.at("index").get<int64_t>(), sample.at("error").get<std::string>());
}

std::string SkippedSamples::share(Collective& collective) {
  for (const auto& text : all_gather_strings(collective, to_json().dump())) merge(nlohmann::json::parse(text));
  return to_json().dump();
}

}  // namespace mmdebias::core
