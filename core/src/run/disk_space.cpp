#include "run/disk_space.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {

std::optional<uint64_t> free_bytes(const std::filesystem::path& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_frsize);
}

SpaceNeed estimate_space_need(const torch::nn::Module& model, const sdk::Options& train, int keep, int existing) {
  uint64_t parameter_bytes = 0, buffer_bytes = 0;
  for (const auto& p : model.parameters(true)) parameter_bytes += static_cast<uint64_t>(p.numel() * p.element_size());
  for (const auto& b : model.buffers(true)) buffer_bytes += static_cast<uint64_t>(b.numel() * b.element_size());
  // As cost.cpp counts them: momentum for SGD, two moments for Adam and AdamW.
  const std::string optimizer = train.string("optimizer");
  const uint64_t slots = optimizer == "sgd" ? (train.number("momentum") > 0 ? 1 : 0) : 2;
  SpaceNeed need;
  // 64 KiB per checkpoint covers the archive's records, the manifest copy and the random streams.
  need.checkpoint_bytes = parameter_bytes * (1 + slots) + buffer_bytes + 64 * 1024;
  need.checkpoints = std::max(1, keep + 1 - existing);
  need.margin_bytes = 16ull * 1024 * 1024;  // log, metrics.jsonl, eval scores, scorer state, summary
  return need;
}

std::string bytes_text(uint64_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f MiB (%llu bytes)", static_cast<double>(bytes) / (1024.0 * 1024.0),
                static_cast<unsigned long long>(bytes));
  return text;
}

void require_free_space(const std::filesystem::path& dir, const SpaceNeed& need) {
  std::optional<uint64_t> available = free_bytes(dir);
  if (!available || *available >= need.total()) return;
  throw InputError("not enough free space for the run in " + dir.string() + ": it needs about " + bytes_text(need.total()) +
                   " (" + std::to_string(need.checkpoints) + " checkpoint(s) of about " + bytes_text(need.checkpoint_bytes) +
                   " each, plus " + bytes_text(need.margin_bytes) + " for logs, metrics and scores), and its filesystem has " +
                   bytes_text(*available) + " free; free some space or choose another --out");
}

void require_run_space(const std::filesystem::path& dir, const torch::nn::Module& model, const sdk::Options& train, int keep) {
  int existing = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir / "checkpoints", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ckpt-", 0) == 0 && e.path().extension() == ".pt") ++existing;
  }
  require_free_space(dir, estimate_space_need(model, train, keep, existing));
}

}  // namespace mmdebias::core
