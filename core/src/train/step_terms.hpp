// The numbers ranks agree on at a step boundary, besides gradients: the loss and its terms by name, and the
// stop request. They ride in the last gradient bucket (one collective per step, bench/run section 6).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dist/collective.hpp"

namespace mmdebias::core {

/// A stop request as every rank learns it: the signal any rank asked to stop for.
struct StopVote {
  bool sigterm = false;  ///< Some rank received SIGTERM.
  bool sigint = false;   ///< Some rank received SIGINT.
  /// SIGTERM, SIGINT (SIGTERM wins when both came), or 0.
  int signal() const;
};

/// What one optimizer step reports once ranks agreed.
struct StepTotals {
  double loss = 0;                       ///< The total loss, mean over micro-batches and ranks.
  std::map<std::string, double> terms;   ///< Each term's mean over the micro-batches (of every rank) that added it.
  StopVote stop;                         ///< Whether to stop after this step.
};

/// Loss terms of one optimizer step keyed by name: summed over this rank's micro-batches, then over ranks.
/// A term that appears on some micro-batches, steps or ranks only is averaged over those that added it.
/// The order of names in the collective is agreed once per new name: every rank learns a name that any
/// rank saw first (an exchange of names and one extra reduction, only on the step that brings it).
class StepTerms {
 public:
  /// Adds one micro-batch's total and named terms.
  void add(double total, const std::vector<std::pair<std::string, double>>& terms);
  /// The step's totals over every rank, with this rank's stop request; clears this step's sums. The values are
  /// packed into one vector that reduce_with_gradients(values) sums over ranks in place (the caller sends it
  /// with the gradients, so a step stays one collective).
  template <class Reduce>
  StepTotals reduce(int local_stop_signal, Collective& collective, Reduce&& reduce_with_gradients);

 private:
  std::vector<double> pack(int local_stop_signal);
  StepTotals unpack(const std::vector<double>& reduced, Collective& collective);
  std::vector<std::string> unseen_names() const;
  void append_to_layout(const std::string& name);

  double total_ = 0, micro_batches_ = 0;
  std::map<std::string, std::pair<double, double>> sums_;  // name -> (sum, count) this step, this rank
  std::vector<std::string> layout_;                          // names in collective order, the same on every rank
  std::map<std::string, size_t> position_;                   // name -> its index in layout_
};

template <class Reduce>
StepTotals StepTerms::reduce(int local_stop_signal, Collective& collective, Reduce&& reduce_with_gradients) {
  std::vector<double> packed = pack(local_stop_signal);
  reduce_with_gradients(packed);
  return unpack(packed, collective);
}

}  // namespace mmdebias::core
