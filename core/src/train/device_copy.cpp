#include "train/device_copy.hpp"

#include <functional>

#include <ATen/ATen.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

namespace mmdebias::core {
namespace {

// Calls f on every defined tensor of batch, in place.
void each_tensor(sdk::Batch& batch, const std::function<void(at::Tensor&)>& f) {
  for (auto& kv : batch.inputs) f(kv.second);
  for (at::Tensor* t : {&batch.label, &batch.group, &batch.environment, &batch.ood, &batch.index})
    if (t->defined()) f(*t);
}

// Whether batches bound for device are worth copying ahead (pinned, asynchronous): a GPU, not the CPU.
bool copies_ahead(c10::Device device) { return device.is_cuda(); }

}  // namespace

InFlightBatch start_copy(sdk::Batch batch, c10::Device device) {
  if (!copies_ahead(device)) return {to_device(std::move(batch), device), nullptr};
  const c10::impl::VirtualGuardImpl impl(device.type());
  const c10::Stream side = impl.getStreamFromGlobalPool(device);
  c10::StreamGuard on_side(side);  // this thread's current stream until the end of the scope
  // Pinned host memory lets the copy run asynchronously (from pageable memory it would wait for the host).
  each_tensor(batch, [&](at::Tensor& t) { t = t.pin_memory().to(device, /*non_blocking=*/true); });
  auto copied = std::make_shared<c10::Event>(device.type());
  copied->record(side);
  return {std::move(batch), std::move(copied)};
}

sdk::Batch wait_for_copy(InFlightBatch in_flight) {
  if (!in_flight.copied) return std::move(in_flight.batch);
  const c10::Device device = in_flight.copied->device();
  const c10::Stream current = c10::impl::VirtualGuardImpl(device.type()).getStream(device);
  in_flight.copied->block(current);
  // The tensors were allocated on the side stream: without this, their memory could return to the side stream's pool
  // while the step's stream still reads them.
  each_tensor(in_flight.batch, [&](at::Tensor& t) { t.record_stream(current); });
  return std::move(in_flight.batch);
}

sdk::Batch to_device(sdk::Batch batch, c10::Device device) {
  if (device.is_cpu()) return batch;
  each_tensor(batch, [&](at::Tensor& t) { t = t.to(device); });
  return batch;
}

}  // namespace mmdebias::core
