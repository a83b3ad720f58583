#include "run/checkpoint.hpp"

#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "common/sha256.hpp"
#include "common/small_file.hpp"
#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "mmdebias-checkpoint-1";

// checkpoints/latest and a sidecar hold one line; anything longer is not ours and is not read whole.
constexpr size_t kPointerBytes = 4096;

std::string checkpoint_name(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%09lld.pt", static_cast<long long>(step));
  return name;
}

// Test-only fault hook (scripts/torture, tests/cli/torture_short.sh): MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=N
// sleeps N ms at each stage of a checkpoint write, so a test can kill the process mid-write. Never set it
// in real runs; unset, it costs one getenv per process.
void pause_for_test() {
  static const long ms = [] {
    const char* value = std::getenv("MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS");
    return value ? std::atol(value) : 0L;
  }();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// A write of the checkpoint for step failed (disk full, I/O error): the temp file is already gone; the
// new file and its sidecar go too unless latest points at them, so the previous checkpoint stays the
// latest and nothing half-made is left. Returns the message to stop the run with.
std::string checkpoint_write_failed(const fs::path& dir, const fs::path& file, int64_t step, const std::string& why) {
  std::optional<fs::path> latest = latest_checkpoint(dir);
  std::error_code ec;
  if (!latest || latest->filename() != file.filename()) {
    fs::remove(file.string() + ".sha256", ec);
    fs::remove(file, ec);
  }
  std::string message = "the checkpoint of step " + std::to_string(step) + " was not saved: " + why + "; ";
  if (latest && latest->filename() != file.filename())
    return message + "the previous checkpoint " + latest->string() + " is intact and still the latest: free some space, then continue with `mmdebias run --resume " + dir.parent_path().string() + "`";
  if (latest) return message + "latest still points at " + latest->string() + "; free some space, then continue with `mmdebias run --resume " + dir.parent_path().string() + "`";
  return message + "the run has no earlier checkpoint; free some space and start it again";
}

// Reads the archive after verifying the sidecar digest, its tensors onto device (where they were saved may be a GPU
// this process does not have, or another one); every failure names the file.
void open_archive(const fs::path& file, torch::serialize::InputArchive& archive, c10::Device device) {
  if (std::string problem = checkpoint_problem(file); !problem.empty()) throw InputError(problem);
  try {
    archive.load_from(file.string(), device);
  } catch (const c10::Error& e) {
    throw InputError("checkpoint " + file.string() + " cannot be read: " + e.what_without_backtrace());
  } catch (const std::exception& e) {  // LibTorch's unpickler also throws std::out_of_range and the like
    throw InputError("checkpoint " + file.string() + " cannot be read: " + e.what());
  }
}

// "Float [2, 3]" of every parameter and buffer by name.
std::map<std::string, std::string> tensor_layout(const torch::nn::Module& model) {
  std::map<std::string, std::string> out;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    std::string shape;
    for (int64_t d : t.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    out[name] = std::string(c10::toString(t.scalar_type())) + " [" + shape + "]";
  };
  for (const auto& p : model.named_parameters(true)) add(p.key(), p.value());
  // An empty buffer is state its component sizes on first use (e.g. statistics grown from the data): any
  // saved shape fits it, so only its dtype is compared.
  for (const auto& b : model.named_buffers(true)) {
    if (b.value().numel() == 0) out[b.key()] = std::string(c10::toString(b.value().scalar_type())) + " [*]";
    else add(b.key(), b.value());
  }
  return out;
}

// Module::load replaces each tensor by the saved one whatever its shape; state of another shape or dtype does
// not fit this pipeline, however valid the file.
void check_layout(const std::map<std::string, std::string>& built, const std::map<std::string, std::string>& loaded,
                  const fs::path& file) {
  for (const auto& [name, layout] : built) {
    auto it = loaded.find(name);
    bool lazy = layout.size() > 4 && layout.compare(layout.size() - 4, 4, " [*]") == 0;
    bool fits = it == loaded.end() || (lazy ? it->second.rfind(layout.substr(0, layout.size() - 3), 0) == 0 : it->second == layout);
    if (!fits)
      throw InputError("checkpoint " + file.string() + " does not fit this pipeline: '" + name + "' is " +
                       it->second + " in the checkpoint, " + layout + " in the model");
  }
}

// One rank's RNG streams: a byte tensor holding what pack_rng wrote, unpacked here once so that a damaged one
// is an error naming the checkpoint now, not an exception from deep inside resume.
std::string read_rng(torch::serialize::InputArchive& archive, int64_t rank, const fs::path& file) {
  const std::string key = "rng_" + std::to_string(rank);
  try {
    at::Tensor blob;
    if (!archive.try_read(key, blob) || !blob.defined() || blob.scalar_type() != at::kByte || blob.dim() != 1)
      throw InputError("checkpoint " + file.string() + " lacks '" + key + "' (rank " + std::to_string(rank) +
                       "'s RNG streams, a 1-D byte tensor)");
    blob = blob.contiguous();
    std::string bytes(static_cast<const char*>(blob.data_ptr()), static_cast<size_t>(blob.numel()));
    unpack_rng(bytes);
    return bytes;
  } catch (const InputError&) {
    throw;
  } catch (const c10::Error& e) {
    throw InputError("checkpoint " + file.string() + ": rank " + std::to_string(rank) +
                     "'s RNG streams cannot be read: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw InputError("checkpoint " + file.string() + ": rank " + std::to_string(rank) +
                     "'s RNG streams cannot be read: " + e.what());
  }
}

CheckpointMeta read_meta(torch::serialize::InputArchive& archive, const fs::path& file) {
  c10::IValue v;
  if (!archive.try_read("format", v) || !v.isString() || v.toStringRef() != kFormat)
    throw InputError("checkpoint " + file.string() + " is not an mmdebias checkpoint (format " + kFormat + ")");
  CheckpointMeta meta;
  auto read_int = [&](const char* key) {
    c10::IValue x;
    if (!archive.try_read(key, x) || !x.isInt()) throw InputError("checkpoint " + file.string() + " lacks '" + key + "'");
    return x.toInt();
  };
  meta.position.step = read_int("step");
  meta.position.epoch = read_int("epoch");
  meta.position.next_batch = read_int("next_batch");
  meta.position.samples_seen = read_int("samples_seen");
  c10::IValue manifest;
  if (archive.try_read("manifest", manifest) && manifest.isString()) meta.resolved_manifest = manifest.toStringRef();
  c10::IValue ranks;
  if (archive.try_read("rng_ranks", ranks) && ranks.isInt())
    for (int64_t r = 0; r < ranks.toInt(); ++r) meta.rng_by_rank.push_back(read_rng(archive, r, file));
  c10::IValue scale;
  if (archive.try_read("loss_scale", scale)) {
    if (!scale.isDouble() || !(scale.toDouble() > 0))
      throw InputError("checkpoint " + file.string() + ": 'loss_scale' is not a positive number");
    meta.loss_scale = LossScaleState{scale.toDouble(), read_int("loss_scale_good_steps"), read_int("loss_scale_skipped")};
  }
  c10::IValue skipped;
  if (archive.try_read("skipped_samples", skipped)) {
    if (!skipped.isString()) throw InputError("checkpoint " + file.string() + ": 'skipped_samples' is not text");
    meta.skipped_samples = skipped.toStringRef();
  }
  return meta;
}

}  // namespace

std::string checkpoint_problem(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return "checkpoint " + file.string() + " does not exist";
  fs::path sidecar = file.string() + ".sha256";
  if (!fs::exists(sidecar, ec))
    return "checkpoint " + file.string() + " has no " + sidecar.filename().string() + " beside it: it was never completed";
  std::string expected;
  try {
    expected = read_small_file(sidecar, kPointerBytes);
  } catch (const InputError& e) {
    return "checkpoint " + file.string() + " cannot be verified: " + e.what();
  }
  expected.erase(std::remove_if(expected.begin(), expected.end(), ::isspace), expected.end());
  std::string actual = sha256_file(file);
  if (actual != expected)
    return "checkpoint " + file.string() + " is corrupt or truncated: its sha256 is " + actual + ", the sidecar says " +
           (expected.empty() ? "nothing (it is empty)" : "'" + excerpt(expected) + "'");
  return "";
}

fs::path save_checkpoint(const fs::path& dir, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                         const CheckpointMeta& meta, int keep) {
  fs::create_directories(dir);
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("step", c10::IValue(meta.position.step));
  archive.write("epoch", c10::IValue(meta.position.epoch));
  archive.write("next_batch", c10::IValue(meta.position.next_batch));
  archive.write("samples_seen", c10::IValue(meta.position.samples_seen));
  archive.write("manifest", c10::IValue(meta.resolved_manifest));
  if (meta.loss_scale) {
    archive.write("loss_scale", c10::IValue(meta.loss_scale->scale));
    archive.write("loss_scale_good_steps", c10::IValue(meta.loss_scale->good_steps));
    archive.write("loss_scale_skipped", c10::IValue(meta.loss_scale->skipped));
  }
  if (!meta.skipped_samples.empty()) archive.write("skipped_samples", c10::IValue(meta.skipped_samples));
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  model.save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("rng_ranks", c10::IValue(static_cast<int64_t>(meta.rng_by_rank.size())));
  for (size_t r = 0; r < meta.rng_by_rank.size(); ++r) {
    const std::string& blob = meta.rng_by_rank[r];
    at::Tensor bytes = at::empty({static_cast<int64_t>(blob.size())}, at::kByte);
    std::memcpy(bytes.data_ptr(), blob.data(), blob.size());
    archive.write("rng_" + std::to_string(r), bytes);
  }
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string data = bytes.str();

  fs::path file = dir / checkpoint_name(meta.position.step);
  try {
    write_file_atomically(file, data, pause_for_test);
    pause_for_test();
    write_file_atomically(file.string() + ".sha256", sha256_bytes(data.data(), data.size()) + "\n", pause_for_test);
    pause_for_test();
    write_file_atomically(dir / "latest", file.filename().string() + "\n");  // the commit point
  } catch (const RunError& e) {
    throw RunError(checkpoint_write_failed(dir, file, meta.position.step, e.what()));
  }

  std::vector<fs::path> all;  // regular files only: the run directory refuses a linked checkpoints/, and a link is not ours
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".pt" && e.path().filename().string().rfind("ckpt-", 0) == 0 && e.symlink_status().type() == fs::file_type::regular)
      all.push_back(e.path());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 1)) < all.size(); ++i) {
    if (all[i] == file) continue;
    fs::remove(all[i]);
    fs::remove(all[i].string() + ".sha256");
  }
  return file;
}

std::string read_checkpoint_pointer(const fs::path& pointer) {
  std::string name = read_small_file(pointer, kPointerBytes);
  name.erase(std::remove_if(name.begin(), name.end(), ::isspace), name.end());
  return name;
}

std::optional<fs::path> latest_checkpoint(const fs::path& dir) {
  fs::path pointer = dir / "latest";
  if (!fs::exists(fs::symlink_status(pointer))) return std::nullopt;  // a symlink is refused when read
  const std::string name = read_checkpoint_pointer(pointer);
  if (name.empty()) return std::nullopt;
  return dir / name;
}

CheckpointMeta read_checkpoint_meta(const fs::path& file) {
  torch::serialize::InputArchive archive;
  open_archive(file, archive, c10::kCPU);
  return read_meta(archive, file);
}

CheckpointMeta load_checkpoint(const fs::path& file, torch::nn::Module& model, torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive archive;
  const std::vector<at::Tensor> params = model.parameters();
  open_archive(file, archive, params.empty() ? c10::Device(c10::kCPU) : params.front().device());  // the optimizer's state too
  CheckpointMeta meta = read_meta(archive, file);
  torch::serialize::InputArchive model_archive, optimizer_archive;
  try {
    archive.read("model", model_archive);
    const std::map<std::string, std::string> built = tensor_layout(model);
    model.load(model_archive);
    check_layout(built, tensor_layout(model), file);
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
  } catch (const InputError&) {
    throw;
  } catch (const c10::Error& e) {
    throw InputError("checkpoint " + file.string() + " does not fit this pipeline (state missing or shaped differently): " +
                     e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw InputError("checkpoint " + file.string() + " does not fit this pipeline (state missing or shaped differently): " +
                     e.what());
  }
  return meta;
}

// Stream names hold '/' and '.', which archive keys may not: names go in one string, states by index.
std::string pack_rng(const std::map<std::string, at::Tensor>& states) {
  torch::serialize::OutputArchive archive;
  std::string names;
  int index = 0;
  for (const auto& kv : states) {
    names += kv.first + "\n";
    archive.write("s" + std::to_string(index++), kv.second);
  }
  archive.write("names", c10::IValue(names));
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

std::map<std::string, at::Tensor> unpack_rng(const std::string& bytes) {
  std::map<std::string, at::Tensor> states;
  if (bytes.empty()) return states;
  torch::serialize::InputArchive archive;
  archive.load_from(bytes.data(), bytes.size());
  c10::IValue names;
  archive.read("names", names);
  std::stringstream lines(names.toStringRef());
  std::string name;
  for (int i = 0; std::getline(lines, name); ++i) {
    at::Tensor state;
    archive.read("s" + std::to_string(i), state);
    states[name] = state;
  }
  return states;
}

std::string params_sha256(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto& p : model.named_parameters(true)) items.emplace_back("p:" + p.key(), p.value());
  for (const auto& b : model.named_buffers(true)) items.emplace_back("b:" + b.key(), b.value());
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Sha256 digest;
  for (const auto& [name, tensor] : items) {
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    std::string header = name + "|" + std::string(c10::toString(t.scalar_type())) + "|";
    for (int64_t s : t.sizes()) header += std::to_string(s) + ",";
    digest.update(header);
    digest.update(t.data_ptr(), t.numel() * t.element_size());
  }
  return digest.hex();
}

}  // namespace mmdebias::core
