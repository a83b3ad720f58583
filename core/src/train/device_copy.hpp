// The one move of a batch to the run's device. On a GPU the loader thread pins the collated batch and copies it on a
// side stream, so that the next batch is on the device when the step starts; the step's stream waits for that copy
// only. Written against c10's device-generic streams and events: no CUDA header, the same code in every build.
#pragma once

#include <memory>

#include <c10/core/Device.h>
#include <c10/core/Event.h>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::core {

/// A batch whose tensors are on their way to a device.
struct InFlightBatch {
  sdk::Batch batch;                    ///< Every tensor on the device (its copy may still be running).
  std::shared_ptr<c10::Event> copied;  ///< Recorded after the copies on their stream; null when nothing is in flight.
};

/// On a loader thread: the batch pinned and copied to device on a side stream of that device, asynchronously.
InFlightBatch start_copy(sdk::Batch batch, c10::Device device);

/// On the thread that steps: its current stream waits for the copy (not the host), and the tensors are marked as used
/// on that stream, so that their memory is not given to another tensor before the step is done with them.
sdk::Batch wait_for_copy(InFlightBatch in_flight);

/// The batch with every tensor (inputs, label, group, environment, ood, index) on device, copied now; the same batch
/// when it is there already.
sdk::Batch to_device(sdk::Batch batch, c10::Device device);

}  // namespace mmdebias::core
