// The global batch of a data-parallel step, as one rank sees it: every rank's rows, gradients only
// through this rank's own rows, scaled so that averaging gradients over ranks gives the 1-rank gradient.
#pragma once

#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/context.hpp"
#include "mmdebias/sdk/gradient.hpp"

namespace mmdebias::mcr {

/// Where this rank's rows sit in the global batch.
struct Shard {
  int64_t offset = 0;  ///< first global row of this rank
  int64_t rows = 0;    ///< rows of this rank
  int64_t total = 0;   ///< rows over all ranks
};

/// This rank's place in the global batch of local_rows rows per rank (one collective when world > 1).
inline Shard locate_shard(sdk::Context& ctx, int64_t local_rows) {
  Shard s{0, local_rows, local_rows};
  if (ctx.world_size() == 1) return s;
  const at::Tensor counts = ctx.all_gather(at::full({1}, local_rows, at::TensorOptions().dtype(at::kLong).device(ctx.device())));
  s.total = counts.sum().item<int64_t>();
  for (int r = 0; r < ctx.rank(); ++r) s.offset += counts[r].item<int64_t>();
  return s;
}

/// The global version of a per-rank tensor [b, ...]: the other ranks' rows as constants, this rank's
/// rows as local itself with its gradient multiplied by the world size W. A loss computed identically
/// on every rank from such tensors then has, after the engine averages gradients over ranks, exactly
/// the gradient of the 1-rank loss on the whole batch: each encoder row gets W·(1/W) of its gradient,
/// and parameters used after the gather (the fusion head) get the full gradient on every rank.
inline at::Tensor globalize(sdk::Context& ctx, const Shard& shard, const at::Tensor& local) {
  const int world = ctx.world_size();
  if (world == 1) return local;
  const at::Tensor all = ctx.all_gather(local.detach().contiguous());
  std::vector<at::Tensor> parts;
  if (shard.offset > 0) parts.push_back(all.narrow(0, 0, shard.offset));
  parts.push_back(sdk::scale_gradient(local, static_cast<double>(world)));
  const int64_t after = shard.offset + shard.rows;
  if (after < all.size(0)) parts.push_back(all.narrow(0, after, all.size(0) - after));
  return at::cat(parts, 0);
}

/// A tensor every rank must agree on (e.g. drawn permutations [S, B]), taken from rank 0: rank 0's
/// random streams are the streams of a 1-rank run with the same seed, so W ranks draw what 1 rank draws.
inline at::Tensor from_rank0(sdk::Context& ctx, const at::Tensor& mine) {
  if (ctx.world_size() == 1) return mine;
  return ctx.all_gather(mine.contiguous()).narrow(0, 0, mine.size(0));
}

}  // namespace mmdebias::mcr
