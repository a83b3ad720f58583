// Large CPU buffers kept when their tensors die and handed out again. Above 32 MiB (glibc's largest mmap threshold)
// malloc maps fresh pages for every allocation and unmaps them on free, so a loader making ~100 MB batches (decoded
// frames) had the kernel clear, fault in and unmap each batch's pages: a fifth of the loader's CPU time (perf,
// bench/media_loader.sh). A pooled buffer is reused as it is; what it held is overwritten by the batch's copy.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>

#include <ATen/core/Tensor.h>

namespace mmdebias::core {

/// A pool of CPU buffers of at least min_bytes each, keeping at most `keep` free ones (the rest are freed).
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  /// The smallest buffer pooled: smaller ones are malloc's, which reuses them itself.
  static constexpr size_t kMinBytes = size_t{32} << 20;

  /// A pool keeping at most keep free buffers; make it with std::make_shared (its tensors hold it alive).
  explicit BufferPool(size_t keep) : keep_(keep) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;             ///< Owns buffers.
  BufferPool& operator=(const BufferPool&) = delete;  ///< Owns buffers.

  /// An uninitialised contiguous CPU tensor of shape and dtype, on a pooled buffer when it is at least kMinBytes
  /// (returned to the pool when the tensor's storage dies, from whatever thread), else at::empty's.
  at::Tensor empty(at::IntArrayRef shape, c10::ScalarType dtype);

 private:
  void give_back(void* data, size_t bytes);
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // by size: a buffer is reused for a request of exactly its size
  size_t keep_;
};

}  // namespace mmdebias::core
