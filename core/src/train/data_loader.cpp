// DataLoader: the prefetching producer (or, with prefetch 0, reading in line on the consumer's thread); the epoch
// order and the rank's slice of each global batch are train/batch_order.cpp's.
#include "train/data_loader.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/sdk/components.hpp"
#include "plugin/guard.hpp"
#include "train/device_copy.hpp"

namespace mmdebias::core {
namespace {

using Clock = std::chrono::steady_clock;

int64_t nanos_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

// Rethrows the exception being handled with what the loader was doing in front: as an InputError when the dataset
// says the data is at fault (sdk::DataError), else as a runtime_error.
[[noreturn]] void rethrow_naming(const std::string& doing) {
  const std::exception_ptr error = std::current_exception();
  const std::string what = "data loader: " + doing + " failed: " + exception_message(error);
  try {
    std::rethrow_exception(error);
  } catch (const sdk::DataError&) {
    throw InputError(what);
  } catch (...) {
    throw std::runtime_error(what);
  }
}

// True when the failure is the data's fault (sdk::DataError): what on_bad_sample: skip leaves out.
bool is_bad_data(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const sdk::DataError&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

// One produced item: a batch (its copy to the device perhaps still running), or the error that ended the epoch.
struct Item {
  InFlightBatch batch;
  std::exception_ptr error;
};

struct DataLoader::State {
  std::shared_ptr<sdk::Dataset> dataset;
  LoaderOptions options;
  int64_t size = 0;
  int64_t batches = 0;
  tbb::task_arena arena;
  // Batches in the queue, the one the consumer holds and the one being made: their large buffers, reused.
  std::shared_ptr<BufferPool> pool;

  // Consumer side (touched by the consumer thread only).
  int64_t epoch = -1;
  int64_t next_batch = 0;
  bool started = false;
  bool finished = false;
  std::vector<int64_t> order;  // the epoch's order when reading in line (prefetch 0)

  // Shared with the producer, guarded by mutex.
  std::mutex mutex;
  std::condition_variable not_empty;
  std::condition_variable not_full;
  std::deque<Item> queue;
  bool done = false;              // the producer pushed its last item
  std::atomic<bool> stop{false};  // the producer must return as soon as it can
  std::thread producer;

  std::atomic<int64_t> wait_ns{0};
  std::atomic<int64_t> busy_ns{0};

  State(std::shared_ptr<sdk::Dataset> d, const LoaderOptions& o)
      : dataset(std::move(d)), options(o), arena(std::max(1, std::min(o.threads, tbb::info::default_concurrency()))),
        pool(std::make_shared<BufferPool>(static_cast<size_t>(o.prefetch) + 3)) {}

  // Reads the samples at indices with one Dataset::get_batch call; false when the dataset reads per sample.
  // Called outside InferenceMode, since the batch must be a normal tensor: a few selects through autograd's
  // dispatch cost half of selecting as inference tensors and cloning them (6 against 12 us a batch of 64 on
  // bench/models/small.yaml's columns, one core).
  bool read_batch(const std::vector<int64_t>& indices, sdk::Batch& batch) const {
    bool filled = false;
    try {
      filled = dataset->get_batch(indices, batch);
    } catch (const sdk::DataError&) {
      if (options.skipped) {  // read again per sample, to leave out only the bad ones
        batch = sdk::Batch{};
        return false;
      }
      rethrow_naming("reading batch of " + std::to_string(indices.size()) + " samples starting at index " +
                     std::to_string(indices.front()));
    } catch (...) {
      rethrow_naming("reading batch of " + std::to_string(indices.size()) + " samples starting at index " +
                     std::to_string(indices.front()));
    }
    if (filled) complete_batch(batch, indices);
    return filled;
  }

  // Reads and collates the samples at indices (non-empty): batched when the dataset can, else per sample. Under
  // on_bad_sample: skip the batch holds the good ones only (no tensor at all when none is good).
  sdk::Batch read_all(const std::vector<int64_t>& indices) {
    sdk::Batch batch;
    if (read_batch(indices, batch)) return batch;
    std::vector<sdk::Sample> samples(indices.size());
    std::vector<std::exception_ptr> errors(indices.size());
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<size_t>(0, indices.size()), [&](const tbb::blocked_range<size_t>& r) {
        // Reading needs no autograd: without it each per-sample slice skips the autograd and view-tracking
        // kernels (a fifth of the loader's CPU time on small samples: perf, bench/run section 1). The guard is per
        // thread, so it is set in the worker; collate() runs outside the guard, so batches are normal tensors.
        c10::InferenceMode no_autograd;
        for (size_t i = r.begin(); i != r.end() && !stop.load(std::memory_order_relaxed); ++i) {
          try {
            samples[i] = dataset->get(indices[i]);
          } catch (...) {
            errors[i] = std::current_exception();
          }
        }
      });
    });
    if (stop) return {};
    std::vector<int64_t> kept = indices;
    if (options.skipped) leave_out_bad(samples, kept, errors);
    for (size_t i = 0; i < errors.size(); ++i)  // the first failure by position, whatever the thread count
      if (errors[i]) {
        try {
          std::rethrow_exception(errors[i]);
        } catch (...) {
          rethrow_naming("reading sample " + std::to_string(kept[i]));
        }
      }
    if (samples.empty()) return {};
    return arena.execute([&] { return collate(samples, kept, pool.get()); });  // its copies use the loader's threads
  }

  // Records and removes the samples whose read failed with bad data (their errors cleared); others stay to be thrown.
  void leave_out_bad(std::vector<sdk::Sample>& samples, std::vector<int64_t>& indices, std::vector<std::exception_ptr>& errors) const {
    size_t out = 0;
    for (size_t i = 0; i < samples.size(); ++i) {
      if (errors[i] && is_bad_data(errors[i])) {
        options.skipped->add(options.split, indices[i], exception_message(errors[i]));
        continue;
      }
      if (out != i) {  // a self-move would empty the sample
        samples[out] = std::move(samples[i]);
        indices[out] = indices[i];
        errors[out] = errors[i];
      }
      ++out;
    }
    samples.resize(out);
    indices.resize(out);
    errors.resize(out);
  }

  // An empty batch with the dataset's shapes and dtypes: from the first sample at or after position `from` of the
  // order that reads (its batch's own were all bad, or the rank got none).
  sdk::Batch empty_batch(const std::vector<int64_t>& order, size_t from) {
    for (size_t k = 0; k < order.size() && !stop; ++k) {
      sdk::Batch one = read_all({order[(from + k) % order.size()]});
      if (one.size() > 0) return empty_like(one);
    }
    if (stop) return {};
    throw InputError("data loader: every sample of '" + options.split + "' is bad data (on_bad_sample: skip left out all " +
                     std::to_string(order.size()) + "); the first: " + options.skipped->to_json(1)[options.split]["samples"][0]["error"].get<std::string>());
  }

  // Reads and collates this rank's slice of global batch b (samples placed by position).
  sdk::Batch produce(const std::vector<int64_t>& order, int64_t b) {
    const std::vector<int64_t> indices = batch_indices(order, options, b);
    sdk::Batch batch = indices.empty() ? sdk::Batch{} : read_all(indices);
    // A rank left without samples, or whose samples were all bad: an empty batch shaped like the global batch's first
    // sample (or the next that reads).
    if (batch.size() == 0 && !stop) batch = empty_batch(order, static_cast<size_t>(b * options.batch_size * options.world_size));
    return batch;
  }

  // Pushes an item unless stopped; blocks while the queue is full. Returns false when stopped.
  bool push(Item item) {
    std::unique_lock<std::mutex> lock(mutex);
    not_full.wait(lock, [&] { return stop || queue.size() < static_cast<size_t>(options.prefetch); });
    if (stop) return false;
    queue.push_back(std::move(item));
    lock.unlock();
    not_empty.notify_one();
    return true;
  }

  void run(std::vector<int64_t> order, int64_t first) {
    for (int64_t b = first; b < batches && !stop; ++b) {
      Item item;
      const auto t0 = Clock::now();
      try {
        item.batch = start_copy(produce(order, b), options.device);
      } catch (...) {
        item.error = std::current_exception();
      }
      busy_ns += nanos_since(t0);
      if (stop) break;
      const bool failed = static_cast<bool>(item.error);
      if (!push(std::move(item)) || failed) break;
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      done = true;
    }
    not_empty.notify_all();
  }

  void stop_producer() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    not_full.notify_all();
    not_empty.notify_all();
    if (producer.joinable()) producer.join();
    queue.clear();
    done = false;
    stop = false;
  }
};

DataLoader::DataLoader(std::shared_ptr<sdk::Dataset> dataset, LoaderOptions options) {
  if (!dataset) throw std::invalid_argument("data loader: no dataset");
  validate(options);
  state_ = std::make_unique<State>(std::move(dataset), options);
  state_->size = state_->dataset->size();
  if (state_->size < 0) throw std::invalid_argument("data loader: dataset reports a negative size");
  state_->batches = core::batches_per_epoch(state_->size, options);
}

DataLoader::~DataLoader() {
  if (state_) state_->stop_producer();
}

int64_t DataLoader::batches_per_epoch() const { return state_->batches; }

int64_t DataLoader::dataset_size() const { return state_->size; }

const LoaderOptions& DataLoader::options() const { return state_->options; }

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  State& s = *state_;
  if (first_batch < 0 || first_batch > s.batches)
    throw std::out_of_range("data loader: first_batch " + std::to_string(first_batch) + " out of range [0, " +
                            std::to_string(s.batches) + "]");
  s.stop_producer();
  if (s.options.tell_epoch)  // no read is running: the producer has just been joined
    if (auto* aware = dynamic_cast<sdk::EpochAware*>(s.dataset.get())) {
      try {
        aware->set_epoch(epoch);
      } catch (...) {
        rethrow_naming("telling the dataset epoch " + std::to_string(epoch));
      }
    }
  s.epoch = epoch;
  s.next_batch = first_batch;
  s.started = true;
  s.finished = false;
  auto order = epoch_order(s.size, s.options.seed, epoch, s.options.shuffle);
  if (s.options.prefetch == 0) {  // in line: next() reads each batch on the caller's thread
    s.order = std::move(order);
    return;
  }
  s.producer = std::thread([&s, order = std::move(order), first_batch]() mutable {
    try {
      s.run(std::move(order), first_batch);
    } catch (...) {  // nothing may escape a thread; end the epoch with the error instead
      Item item;
      item.error = std::current_exception();
      std::lock_guard<std::mutex> lock(s.mutex);
      s.queue.push_back(std::move(item));
      s.done = true;
      s.not_empty.notify_all();
    }
  });
}

std::optional<sdk::Batch> DataLoader::next() {
  State& s = *state_;
  if (!s.started) throw std::logic_error("data loader: next() called before start_epoch()");
  if (s.finished) return std::nullopt;
  if (s.options.prefetch == 0) return next_in_line();
  const auto t0 = Clock::now();
  std::unique_lock<std::mutex> lock(s.mutex);
  s.not_empty.wait(lock, [&] { return !s.queue.empty() || s.done; });
  s.wait_ns += nanos_since(t0);
  if (s.queue.empty()) {
    s.finished = true;
    return std::nullopt;
  }
  Item item = std::move(s.queue.front());
  s.queue.pop_front();
  lock.unlock();
  s.not_full.notify_one();
  if (item.error) {
    s.finished = true;
    std::rethrow_exception(item.error);
  }
  ++s.next_batch;
  return wait_for_copy(std::move(item.batch));
}

// prefetch 0: the batch is read now, on this thread; the whole read is time the consumer waits for data.
std::optional<sdk::Batch> DataLoader::next_in_line() {
  State& s = *state_;
  if (s.next_batch >= s.batches) {
    s.finished = true;
    return std::nullopt;
  }
  const auto t0 = Clock::now();
  std::optional<sdk::Batch> batch;
  try {
    batch = s.produce(s.order, s.next_batch);
  } catch (...) {
    s.finished = true;  // as with a producer thread: a failed read ends the epoch
    const int64_t ns = nanos_since(t0);
    s.wait_ns += ns;
    s.busy_ns += ns;
    throw;
  }
  const int64_t ns = nanos_since(t0);
  s.wait_ns += ns;
  s.busy_ns += ns;
  ++s.next_batch;
  return batch;
}

int64_t DataLoader::epoch() const { return state_->epoch; }

int64_t DataLoader::next_batch() const { return state_->next_batch; }

double DataLoader::wait_seconds() const { return static_cast<double>(state_->wait_ns.load()) * 1e-9; }

double DataLoader::busy_seconds() const { return static_cast<double>(state_->busy_ns.load()) * 1e-9; }

void DataLoader::reset_timers() {
  state_->wait_ns = 0;
  state_->busy_ns = 0;
}

}  // namespace mmdebias::core
