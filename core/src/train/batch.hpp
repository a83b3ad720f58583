// Batches as the loader makes them and the step consumes them: collated from samples, completed after
// Dataset::get_batch, and emptied for a rank without samples
// (train/device_copy.hpp moves them to the run's device).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "mmdebias/sdk/data.hpp"
#include "train/buffer_pool.hpp"

namespace mmdebias::core {

/// Stacks samples into a batch: each modality [B, ...], label/group/environment int64 [B], ood bool [B],
/// index [B] (= indices). Throws std::invalid_argument when the samples disagree on modalities, shapes,
/// dtypes or devices (naming the modality, the sample index and both shapes), or when samples is empty. Large inputs
/// are stacked into pool's buffers where a pool is given (the loader's).
sdk::Batch collate(const std::vector<sdk::Sample>& samples, const std::vector<int64_t>& indices, BufferPool* pool = nullptr);

/// The same batch with every tensor narrowed to zero rows (an empty batch of the right shapes and dtypes).
sdk::Batch empty_like(const sdk::Batch& batch);

/// Finishes a batch that Dataset::get_batch filled: sets index [B] (= indices) and clones any inference tensor
/// (so autograd may save it). Throws std::invalid_argument when a tensor is missing, has another leading size
/// than indices, or label/group/environment are not int64 or ood not bool.
void complete_batch(sdk::Batch& batch, const std::vector<int64_t>& indices);


/// The first NaN or infinity among a batch's floating-point inputs, as "input 'x' of sample 17 holds nan" (the sample
/// by its index in the split: index[row], or the row when index is undefined) plus how many such values the batch
/// holds; empty when every input is finite. A full pass over the inputs: meant for after a loss went non-finite.
std::string first_non_finite_input(const std::map<std::string, at::Tensor>& inputs, const at::Tensor& index);

}  // namespace mmdebias::core
