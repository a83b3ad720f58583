// Where training stands, besides tensors: what a checkpoint records so a resumed run continues exactly.
#pragma once

#include <cstdint>

namespace mmdebias::core {

/// Where the run stands, besides tensors.
struct RunPosition {
  int64_t step = 0;           ///< Optimizer steps completed.
  int64_t epoch = 0;          ///< Epoch in progress (or the next one, when next_batch == 0).
  int64_t next_batch = 0;     ///< Index of the next batch to read within the epoch.
  int64_t samples_seen = 0;   ///< Training samples consumed so far.
};

}  // namespace mmdebias::core
