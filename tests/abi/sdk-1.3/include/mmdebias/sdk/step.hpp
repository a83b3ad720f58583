// What hook 7 (after_backward) sees of one training step: each micro-batch with its forward record.
#pragma once

#include <vector>

#include "mmdebias/sdk/data.hpp"
#include "mmdebias/sdk/model.hpp"
#include "mmdebias/sdk/terms.hpp"

namespace mmdebias::sdk {

/// One micro-batch of a training step as hooks 1-6 left it. Tensors are detached from the graph (the backward
/// has run): read them, do not differentiate them.
struct MicroBatch {
  Batch batch;            ///< The batch after hook 1 (on_batch), on the device.
  ForwardRecord record;   ///< Its forward record: features, fused, logits, modality logits where computed.
  Estimates estimates;    ///< What the bias estimators published for it.
};

/// This rank's part of one optimizer step: train.accumulate micro-batches (fewer at an epoch's end), in order.
struct StepRecords {
  std::vector<MicroBatch> micro_batches;  ///< Every micro-batch of the step on this rank, in the order they ran.
};

}  // namespace mmdebias::sdk
