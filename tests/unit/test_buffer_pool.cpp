// The loader's pool of large batch buffers (train/buffer_pool.hpp): reused when their tensors die, small ones left to
// malloc, at most `keep` kept, and a tensor may outlive the pool that made it.
#include <ATen/ATen.h>

#include "train/buffer_pool.hpp"

// After the LibTorch headers: glog (pulled in by them) defines a CHECK macro that doctest must override.
#include <doctest/doctest.h>

using mmdebias::core::BufferPool;

TEST_CASE("test_buffer_pool: a large buffer is reused once its tensor dies, a small one is malloc's") {
  auto pool = std::make_shared<BufferPool>(2);
  const int64_t rows = static_cast<int64_t>(BufferPool::kMinBytes / 4 / 1024);  // exactly the smallest pooled size
  void* first = nullptr;
  {
    at::Tensor a = pool->empty({rows, 1024}, at::kFloat);
    first = a.data_ptr();
    a.fill_(3.0);
    CHECK(a.sum().item<double>() == 3.0 * rows * 1024);
  }
  at::Tensor b = pool->empty({rows, 1024}, at::kFloat);
  CHECK(static_cast<bool>(b.data_ptr() == first));  // the same memory again: no fresh pages
  at::Tensor c = pool->empty({rows, 1024}, at::kFloat);
  CHECK(static_cast<bool>(c.data_ptr() != first));  // in use: another buffer
  at::Tensor other_size = pool->empty({rows + 1, 1024}, at::kFloat);
  CHECK(static_cast<bool>(other_size.data_ptr() != first));
  at::Tensor small = pool->empty({4, 4}, at::kLong);
  CHECK(small.numel() == 16);
  CHECK(static_cast<bool>(small.scalar_type() == at::kLong));
}

TEST_CASE("test_buffer_pool: at most keep buffers are kept, and a tensor outlives its pool") {
  auto pool = std::make_shared<BufferPool>(1);
  const int64_t rows = static_cast<int64_t>(BufferPool::kMinBytes / 4 / 1024);
  void* kept = nullptr;
  {
    at::Tensor a = pool->empty({rows, 1024}, at::kFloat), b = pool->empty({rows, 1024}, at::kFloat);
    kept = b.data_ptr();
  }  // b dies first (reverse order) and is kept; a is freed (keep = 1)
  at::Tensor again = pool->empty({rows, 1024}, at::kFloat);
  CHECK(static_cast<bool>(again.data_ptr() == kept));
  std::weak_ptr<BufferPool> watch = pool;
  pool.reset();
  CHECK_FALSE(watch.expired());  // again's deleter holds the pool
  again.fill_(1.0);
  again = at::Tensor();
  CHECK(watch.expired());
}
