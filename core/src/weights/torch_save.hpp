// State dicts saved by PyTorch's torch.save (the zip format, PyTorch >= 1.6). LibTorch's own unpickler reads
// TorchScript archives, not these: it turns collections.OrderedDict, what model.state_dict() returns, into
// None. So the pickle is read here by a small interpreter that knows only what a state dict uses (dicts,
// lists, tuples, strings, numbers and tensors); the archive and its storages through LibTorch's reader.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "weights/named_tensors.hpp"

namespace mmdebias::core {

/// Reads one record of the archive ("data/0") as bytes (a uint8 tensor).
using RecordReader = std::function<at::Tensor(const std::string& name)>;

/// The tensors of a pickled state dict (torch.save's data.pkl), its storages read through record; key as below.
/// Throws InputError (without the file's name) on anything a state dict does not hold.
NamedTensors state_dict_from_pickle(const std::string& pickle, const RecordReader& record, const std::string& key);

/// True when the file is a zip archive (torch.save's format since PyTorch 1.6).
bool looks_like_torch_save(const std::filesystem::path& file);

/// The tensors of a torch.save file: the saved dict itself, or with key non-empty its entry `key` (e.g.
/// "state_dict" of a training checkpoint). Throws InputError naming the file, with the entries a checkpoint
/// holds when the dict is not one of tensors.
NamedTensors read_torch_save(const std::filesystem::path& file, const std::string& key);

}  // namespace mmdebias::core
