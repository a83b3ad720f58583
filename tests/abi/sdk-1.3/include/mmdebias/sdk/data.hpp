// Samples, batches and the description of a dataset's modalities.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmdebias::sdk {

/// How a modality's input is represented.
enum class InputKind {
  Dense,   ///< Floating-point array of a fixed shape (features, images, spectrograms).
  Tokens,  ///< int64 token ids of a fixed length, 0 = padding.
};

/// One modality as a dataset provides it.
struct ModalitySpec {
  std::string name;            ///< Modality name used throughout the manifest ("image", "text").
  InputKind kind = InputKind::Dense;  ///< Dense values or token ids.
  std::vector<int64_t> shape;  ///< Per-sample shape, without the batch dimension.
  int64_t vocab_size = 0;      ///< Token vocabulary size (Tokens only).
};

/// What a dataset holds, known without reading its data.
struct DatasetInfo {
  std::vector<ModalitySpec> modalities;  ///< Modalities, in the dataset's order.
  int64_t num_classes = 0;               ///< Number of in-distribution classes.
  std::vector<std::string> class_names;  ///< Optional class names (size num_classes or empty).
  int64_t num_groups = 0;                ///< Number of group ids (0 when the dataset has none).
  std::vector<std::string> splits;       ///< Split names the dataset serves ("train", "test", ...).
  /// What the user should know about the data before training on it, one sentence each, saying what to do (e.g.
  /// "most classes have no sample"); the host logs each as a warning and `mmdebias validate` prints it
  /// (SDK 1.0 pre-release addition, kept last).
  std::vector<std::string> warnings;
};

/// Thrown by a dataset when the user's data is at fault, not the program or the machine: a file truncated or
/// changed on disk, a value out of range. The host reports it as bad input (exit 2) with its message, which should
/// name the file and the row. A std::invalid_argument, so code that catches those keeps working.
class DataError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// One example: an input per modality plus its label and annotations.
struct Sample {
  std::map<std::string, at::Tensor> inputs;  ///< Modality name -> per-sample tensor.
  int64_t label = 0;        ///< Class index (for an OOD sample: any value, ignored by accuracy).
  int64_t group = -1;       ///< Group id for worst-group accuracy, -1 when none.
  int64_t environment = -1; ///< Environment id, -1 when none.
  bool ood = false;         ///< True for an out-of-distribution sample.
};

/// A collated batch; every tensor's first dimension is the batch size.
struct Batch {
  std::map<std::string, at::Tensor> inputs;  ///< Modality name -> [B, ...].
  at::Tensor label;        ///< [B] int64.
  at::Tensor group;        ///< [B] int64 (-1 where unknown).
  at::Tensor environment;  ///< [B] int64 (-1 where unknown).
  at::Tensor ood;          ///< [B] bool.
  at::Tensor index;        ///< [B] int64 indices of the samples in their split.

  /// Number of samples.
  int64_t size() const { return label.defined() ? label.size(0) : 0; }
};

}  // namespace mmdebias::sdk
