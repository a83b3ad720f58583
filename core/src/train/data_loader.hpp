// Batches from a dataset: a deterministic global order per epoch, sharded over ranks, read in
// parallel by a TBB arena on a producer thread and prefetched through a bounded queue.
//
// Order. Epoch e visits a permutation of [0, N) that depends on (seed, e) only (identity when
// shuffle is off); it is computed by a Fisher-Yates shuffle over std::mt19937_64, so it is the same
// on every platform and LibTorch version. Global batch i is perm[i*B*W, (i+1)*B*W) with B the
// per-rank batch size and W the world size; rank r reads the contiguous slice [r*B, (r+1)*B) of it.
// The concatenation of all ranks' batches i, in rank order, is therefore exactly batch i of a
// single process with batch size B*W.
//
// The last, incomplete global batch (L < B*W samples). drop_last drops it. Otherwise it is split
// into W contiguous slices whose sizes differ by at most one (the first L % W ranks get one more);
// every sample is still read exactly once per epoch, and every rank sees the same number of
// batches (so collectives never hang). When L < W, ranks r >= L get an EMPTY batch (size() == 0,
// every tensor with a leading dimension of 0 and the right trailing shape and dtype): a trainer
// must still take part in the step's collectives and should weight its contribution by size().
//
// Reading. A dataset that implements Dataset::get_batch fills a batch in one call (TensorDataset: one
// index_select per column); otherwise samples are read one by one with Dataset::get and collated.
//
// Bad samples. By default a sample the dataset refuses (sdk::DataError) ends the epoch with its error. With
// options.skipped set (on_bad_sample: skip) it is recorded there and left out: its batch is smaller (empty when
// every sample of it is bad, as above), and a batched read that fails is read again per sample to find which.
// What is skipped depends on the data alone, so a resumed run and every world size skip the same samples.
//
// In line (prefetch 0). No producer thread: next() reads the batch on the caller's thread, and the whole read
// counts as waiting (wait_seconds()). Best when the step and a loader thread would share one core anyway.
//
// Parallelism. Samples of one batch are read with tbb::parallel_for inside a task_arena of
// `threads` threads (the producer thread counts as one of them; capped at the machine's hardware
// concurrency) and placed by position, so a batch's content does not depend on the thread count or
// the prefetch depth. The loader does not
// touch LibTorch's intra-op thread count (a process-wide setting left to the trainer); collation
// (at::stack) runs on the producer thread with whatever intra-op threads the process has.
//
// Device. With a producer thread and a GPU as options.device, the producer also pins each batch and starts its copy to
// the GPU on a side stream (train/device_copy.hpp); next() returns it on the device, the step's stream waiting for the
// copy. Otherwise batches come on the CPU and the step moves them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "mmdebias/sdk/data.hpp"
#include "train/batch.hpp"
#include "train/skipped_samples.hpp"

namespace mmdebias::sdk {
class Dataset;
}

namespace mmdebias::core {

/// How a DataLoader orders, shards and prefetches.
struct LoaderOptions {
  int64_t batch_size = 1;  ///< Samples per batch on this rank (B); a global batch holds B * world_size.
  bool shuffle = true;     ///< Visit a fresh permutation each epoch; identity order when false.
  bool drop_last = true;   ///< Drop the last incomplete GLOBAL batch.
  uint64_t seed = 0;       ///< Seed of the order; epoch e's order depends on (seed, e) only.
  int rank = 0;            ///< This process's rank, 0 <= rank < world_size.
  int world_size = 1;      ///< Number of ranks sharing each global batch.
  int prefetch = 4;        ///< Batches produced ahead of the consumer (queue capacity); 0 = read in line, no thread.
  int threads = 1;         ///< Threads of the arena that reads samples in parallel (>= 1).
  c10::Device device{c10::kCPU};  ///< Where the producer copies each batch ahead (a GPU); the CPU copies nothing.
  bool tell_epoch = false;  ///< Tell an sdk::EpochAware dataset each epoch (the training loader; not a scorer's fit,
                            ///< which reads the same dataset between the trainer's epochs).
  SkippedSamples* skipped = nullptr;  ///< on_bad_sample: skip: samples the dataset refuses as bad data
                                      ///< (sdk::DataError) are recorded here and left out of their batch.
  std::string split;        ///< The split read (names skipped samples).

  /// What every loader of a run shares: B, the run's seed, this rank's place and at least one thread;
  /// the caller sets shuffle, drop_last and prefetch.
  static LoaderOptions for_rank(int64_t batch_size, uint64_t seed, int rank, int world_size, int threads) {
    LoaderOptions lo;
    lo.batch_size = batch_size;
    lo.seed = seed;
    lo.rank = rank;
    lo.world_size = world_size;
    lo.threads = threads < 1 ? 1 : threads;
    return lo;
  }
};

/// Throws std::invalid_argument unless batch_size >= 1, world_size >= 1, batch_size * world_size fits in int64,
/// 0 <= rank < world_size, prefetch >= 0 and threads >= 1.
void validate(const LoaderOptions& options);

/// The sample order of one epoch: a permutation of [0, n) seeded by (seed, epoch) only, or the identity.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

/// Global batches in an epoch of n samples (the same on every rank).
int64_t batches_per_epoch(int64_t n, const LoaderOptions& options);

/// The dataset indices options.rank reads in global batch `batch` of an epoch ordered by `order`
/// (empty only for a rank left without samples in the last global batch; see the file comment).
std::vector<int64_t> batch_indices(const std::vector<int64_t>& order, const LoaderOptions& options, int64_t batch);

/// Reads batches of a prepared dataset on a background producer; one consumer thread calls
/// start_epoch() and next(). Destroying it (or starting another epoch) stops the producer and joins it.
class DataLoader {
 public:
  /// A loader over a dataset on which prepare() has already been called; validates options.
  DataLoader(std::shared_ptr<sdk::Dataset> dataset, LoaderOptions options);
  /// Stops the producer (even mid-epoch, even while it waits on a full queue) and joins it.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;             ///< Not copyable (owns a thread).
  DataLoader& operator=(const DataLoader&) = delete;  ///< Not copyable (owns a thread).

  /// Global batches per epoch (every rank gets this many, some possibly empty; see the file comment).
  int64_t batches_per_epoch() const;
  /// Number of samples in the dataset.
  int64_t dataset_size() const;
  /// The options in force.
  const LoaderOptions& options() const;

  /// Starts producing epoch `epoch` from global batch `first_batch` (0 <= first_batch <= batches_per_epoch());
  /// a resumed epoch yields exactly the batches first_batch.. of the uninterrupted one. Abandons any epoch
  /// in progress.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  /// The next batch of the current epoch, or nullopt at its end. Rethrows a failure of Dataset::get (or
  /// get_batch) as std::runtime_error naming the sample index (or the batch's first index and size) and the
  /// original message, or as an InputError when the dataset threw sdk::DataError (the epoch then ends).
  /// Throws std::logic_error before the first start_epoch().
  std::optional<sdk::Batch> next();

  /// The epoch last started (-1 before any).
  int64_t epoch() const;
  /// Index, within the current epoch, of the batch the next call to next() returns (a checkpoint stores
  /// it to resume with start_epoch(epoch(), next_batch())).
  int64_t next_batch() const;

  /// Seconds the consumer spent blocked inside next() waiting for a batch.
  double wait_seconds() const;
  /// Seconds the producer spent reading and collating batches.
  double busy_seconds() const;
  /// Resets wait_seconds() and busy_seconds() to zero.
  void reset_timers();

 private:
  std::optional<sdk::Batch> next_in_line();  // next() with prefetch 0
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mmdebias::core
