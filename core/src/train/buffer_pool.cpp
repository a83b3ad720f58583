#include "train/buffer_pool.hpp"

#include <cstdlib>
#include <new>

#include <ATen/ATen.h>
#include <c10/util/accumulate.h>

namespace mmdebias::core {

BufferPool::~BufferPool() {
  for (auto& [bytes, data] : free_) std::free(data);
}

at::Tensor BufferPool::empty(at::IntArrayRef shape, c10::ScalarType dtype) {
  const size_t bytes = static_cast<size_t>(c10::multiply_integers(shape)) * c10::elementSize(dtype);
  if (bytes < kMinBytes) return at::empty(shape, at::TensorOptions().dtype(dtype));
  void* data = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = free_.find(bytes); it != free_.end()) {
      data = it->second;
      free_.erase(it);
    }
  }
  if (!data && posix_memalign(&data, 64, bytes) != 0) throw std::bad_alloc();
  std::shared_ptr<BufferPool> self = shared_from_this();
  return at::from_blob(data, shape, [self, bytes](void* p) { self->give_back(p, bytes); }, at::TensorOptions().dtype(dtype));
}

void BufferPool::give_back(void* data, size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.size() < keep_) {
      free_.emplace(bytes, data);
      return;
    }
  }
  std::free(data);
}

}  // namespace mmdebias::core
