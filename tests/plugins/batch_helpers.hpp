// Dataset::get_batch checks shared by the dataset tests: a batch must be bitwise what collating get() gives.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include "train/data_loader.hpp"
#include "mmdebias/sdk/components.hpp"

namespace stdtest {

/// Same dtype, shape and bytes (NaN and -0 included).
inline bool bitwise(const at::Tensor& x, const at::Tensor& y) {
  if (x.scalar_type() != y.scalar_type() || !x.sizes().equals(y.sizes())) return false;
  const at::Tensor a = x.contiguous(), b = y.contiguous();
  return std::memcmp(a.data_ptr(), b.data_ptr(), static_cast<size_t>(a.nbytes())) == 0;
}

/// get_batch(indices) fills every field but index, each bitwise equal to core::collate of get() per index.
inline void check_get_batch_equals_get(const mmdebias::sdk::Dataset& ds, const std::vector<int64_t>& indices) {
  mmdebias::sdk::Batch batch;
  REQUIRE(ds.get_batch(indices, batch));
  std::vector<mmdebias::sdk::Sample> samples;
  for (int64_t i : indices) samples.push_back(ds.get(i));
  const mmdebias::sdk::Batch want = mmdebias::core::collate(samples, indices);
  REQUIRE(batch.inputs.size() == want.inputs.size());
  for (const auto& [name, t] : want.inputs) {
    CAPTURE(name);
    REQUIRE(batch.inputs.count(name) == 1);
    CHECK(bitwise(batch.inputs.at(name), t));
  }
  CHECK(bitwise(batch.label, want.label));
  CHECK(bitwise(batch.group, want.group));
  CHECK(bitwise(batch.environment, want.environment));
  CHECK(bitwise(batch.ood, want.ood));
  CHECK_FALSE(batch.index.defined());  // the host sets it
}

}  // namespace stdtest
