#include "dist/collective.hpp"

#include <cstring>

#include <ATen/ATen.h>

namespace mmdebias::core {

std::vector<std::string> all_gather_strings(Collective& collective, const std::string& text) {
  if (collective.world_size() == 1) return {text};
  at::Tensor sizes = collective.all_gather(at::full({1}, static_cast<int64_t>(text.size()), at::kLong));
  at::Tensor bytes = at::empty({static_cast<int64_t>(text.size())}, at::kByte);
  if (!text.empty()) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  at::Tensor all = collective.all_gather(bytes);
  std::vector<std::string> out;
  int64_t offset = 0;
  for (int r = 0; r < collective.world_size(); ++r) {
    const int64_t n = sizes[r].item<int64_t>();
    out.emplace_back(static_cast<const char*>(all.data_ptr()) + offset, static_cast<size_t>(n));
    offset += n;
  }
  return out;
}

}  // namespace mmdebias::core
