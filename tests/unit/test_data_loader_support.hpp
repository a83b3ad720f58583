// Helpers shared by the data loader's tests (test_data_loader.cpp, test_data_loader_batched.cpp).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "train/data_loader.hpp"

// After the LibTorch headers: glog (pulled in by them) defines a CHECK macro that doctest must override.
#include <doctest/doctest.h>

namespace loader_test {

/// Every batch of epoch from batch first on; checks that next() stays at the end once it has returned none.
inline std::vector<mmdebias::sdk::Batch> collect(mmdebias::core::DataLoader& loader, int64_t epoch, int64_t first = 0) {
  loader.start_epoch(epoch, first);
  std::vector<mmdebias::sdk::Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  CHECK_FALSE(loader.next().has_value());
  return out;
}

}  // namespace loader_test
