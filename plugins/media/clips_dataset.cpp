// media.clips: samples on disk as researchers keep them — audio files, folders of extracted frames, images —
// listed by an index (CSV or JSON lines), or laid out as a preset names (OGM-GE's CREMA-D). Decoded and augmented
// per sample in get(), which the host's loader calls from its worker threads; every random draw comes from a
// generator seeded by (run seed, split, epoch, index), so a resumed run or another rank sees the same sample.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "audio_file.hpp"
#include "clip_frames.hpp"
#include "clips_config.hpp"
#include "image_file.hpp"
#include "image_transforms.hpp"
#include "media_index.hpp"
#include "npy_sample.hpp"
#include "preset_layouts.hpp"
#include "text_tokens.hpp"
#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/fingerprint.hpp"
#include "mmdebias/sdk/registrar.hpp"
#include "spectrogram.hpp"

namespace mmdebias::media_plugin {
namespace {

namespace fs = std::filesystem;
const char* kName = "media.clips";

/// One sample as the index gives it, resolved: paths made absolute, the label an index.
struct Entry {
  int64_t line = 0;
  std::string audio, frames, image;  // absolute paths ("" where the modality is absent)
  std::string text;                  // the text column's value
  std::vector<std::string> arrays;   // absolute paths, one per arrays column
  int64_t label = 0, group = -1;
  bool ood = false;
};

/// The options with what the preset and "auto" resolve to.
struct Resolved {
  ClipsConfig c;
  Preset preset = Preset::None;
  std::string audio_name, frames_name, image_name;  // modality names
  std::string audio_fit;
  int64_t frame_count = 3;
  int64_t samples() const { return std::llround(c.audio_rate * c.audio_seconds); }
};

Resolved resolve(const ClipsConfig& c) {
  Resolved r{c, preset_of(c.preset), c.audio, c.frames, c.image, c.audio_fit == "auto" ? "pad" : c.audio_fit, c.frame_count ? c.frame_count : 3};
  if (r.preset != Preset::None) {  // the modalities are named as the releases' models' inputs
    r.audio_name = "audio";
    r.frames_name = "visual";
    r.image_name.clear();
    r.c.text.clear();
    r.c.arrays.clear();
  }
  if (r.preset == Preset::Cremad) {  // OGM-GE's CramedDataset
    if (c.audio_fit == "auto") r.audio_fit = "tile";
    if (!c.frame_count) r.frame_count = 1;
  }
  if (r.preset == Preset::KineticsSounds || r.preset == Preset::Ave) r.frame_count = 3;  // the releases' pick_num
  if (r.c.classes.empty()) r.c.classes = preset_classes(r.preset, c.root);
  return r;
}

/// Presets whose audio is a spectrogram computed beforehand (.npy), not a file to decode.
bool spectrogram_files(Preset p) { return p == Preset::KineticsSounds || p == Preset::Ave; }

std::string where(const fs::path& index, int64_t line) { return index.string() + ":" + std::to_string(line); }

class ClipsDataset final : public sdk::Dataset, public sdk::EpochAware {
 public:
  ClipsDataset(const ClipsConfig& c, std::string split, uint64_t seed) : r_(resolve(c)), split_(std::move(split)), seed_(seed) {
    if (r_.audio_name.empty() && r_.frames_name.empty() && r_.image_name.empty() && c.text.empty() && c.arrays.empty())
      throw std::invalid_argument(std::string(kName) + ": no modality: name an index column in audio, frames, image, text or "
                                  "arrays (or a preset)");
    if (!fs::is_directory(r_.c.root)) throw std::invalid_argument(std::string(kName) + ": root '" + r_.c.root + "' is not a directory");
  }

  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    const int64_t L = r_.samples(), frames = 1 + L / r_.c.hop;
    std::vector<Index> indexes;  // each index file read once: splits, classes and shapes come from them
    if (one_index()) {
      indexes.push_back(read_index(index_file("")));
      require_split_column(indexes[0]);
      info.splits = split_names(indexes[0]);
    } else {
      info.splits = split_files();
      for (const auto& split : info.splits) indexes.push_back(read_split(split));
    }
    if (spectrogram_files(r_.preset)) {
      info.modalities.push_back({r_.audio_name, sdk::InputKind::Dense, npy_shape(first_audio(indexes, info.splits)), 0});
    } else if (!r_.audio_name.empty()) {
      std::vector<int64_t> shape = r_.c.audio_features == "waveform" ? std::vector<int64_t>{L}
                                 : r_.c.audio_features == "log_mel" ? std::vector<int64_t>{r_.c.mels, frames}
                                                                     : std::vector<int64_t>{r_.c.n_fft / 2 + 1, frames};
      info.modalities.push_back({r_.audio_name, sdk::InputKind::Dense, shape, 0});
    }
    const int64_t s = r_.c.image_size;
    if (!r_.frames_name.empty()) info.modalities.push_back({r_.frames_name, sdk::InputKind::Dense, {r_.frame_count, 3, s, s}, 0});
    if (!r_.image_name.empty()) info.modalities.push_back({r_.image_name, sdk::InputKind::Dense, {3, s, s}, 0});
    if (!r_.c.text.empty()) info.modalities.push_back({r_.c.text, sdk::InputKind::Tokens, {r_.c.text_length}, text_vocab_size()});
    for (const auto& column : r_.c.arrays)
      info.modalities.push_back({column, sdk::InputKind::Dense, npy_shape(first_file(indexes, column)), 0});
    info.class_names = r_.c.classes;
    info.num_classes = r_.c.classes.empty() ? max_label(indexes) + 1 : static_cast<int64_t>(r_.c.classes.size());
    return info;
  }

  void prepare() override {
    entries_.clear();
    if (!r_.c.text.empty()) {
      if (!r_.c.text_ids) vocabulary_ = std::make_shared<Vocabulary>(vocab_file());
      vocab_size_ = r_.c.text_ids && r_.c.vocab_size > 0 ? r_.c.vocab_size : vocabulary_ ? vocabulary_->size() : text_vocab_size();
    }
    const Index index = read_split(split_);
    if (one_index()) require_split_column(index);
    for (const auto& row : index.rows) {
      if (one_index() && row.fields.at(r_.c.split_column) != split_) continue;
      entries_.push_back(entry(index, row));
    }
    if (entries_.empty()) throw sdk::DataError(std::string(kName) + ": the split '" + split_ + "' has no row in " + index.file.string());
    if (spectrogram_files(r_.preset)) audio_shape_ = npy_shape(entries_.front().audio);
    array_shapes_.clear();
    for (size_t k = 0; k < r_.c.arrays.size(); ++k) array_shapes_.push_back(npy_shape(entries_.front().arrays[k]));
  }

  int64_t size() const override { return static_cast<int64_t>(entries_.size()); }

  void set_epoch(int64_t epoch) override { epoch_ = epoch; }  // fresh crops, flips, segments and frames each epoch

  sdk::Sample get(int64_t i) const override {
    const Entry& e = entries_.at(static_cast<size_t>(i));
    sdk::Fnv1a64 key;  // (run seed, split, epoch, index): the same draws on every rank, machine and resume
    key.text(kName);
    key.u64(seed_);
    key.text(split_);
    key.u64(static_cast<uint64_t>(epoch_.load()));
    key.u64(static_cast<uint64_t>(i));
    std::mt19937_64 rng(key.h);
    sdk::Sample s;
    try {
      if (!e.audio.empty())
        s.inputs[r_.audio_name] = spectrogram_files(r_.preset) ? read_npy_sample(e.audio, audio_shape_) : audio(e.audio, rng);
      if (!e.frames.empty()) s.inputs[r_.frames_name] = frames(e.frames, rng);
      if (!e.image.empty()) {
        const at::Tensor rgb = read_image(e.image);
        s.inputs[r_.image_name] = transform_image(rgb, transform(), draw_crop(rgb.size(0), rgb.size(1), rng));
      }
      if (!r_.c.text.empty()) s.inputs[r_.c.text] = tokens(e.text);
      for (size_t k = 0; k < e.arrays.size(); ++k) s.inputs[r_.c.arrays[k]] = read_npy_sample(e.arrays[k], array_shapes_[k]);
    } catch (const sdk::DataError& err) {
      throw sdk::DataError(std::string(kName) + ": sample " + std::to_string(i) + " of '" + split_ + "' (" +
                           where(index_file(split_), e.line) + "): " + err.what());
    }
    s.label = e.label;
    s.group = e.group;
    s.ood = e.ood;
    return s;
  }

  std::string fingerprint() const override {
    sdk::Fnv1a64 f;
    f.text(kName);
    f.text(split_);
    for (const auto& e : entries_) {
      f.text(e.audio);
      f.text(e.frames);
      f.text(e.image);
      f.text(e.text);
      for (const auto& a : e.arrays) f.text(a);
      f.u64(static_cast<uint64_t>(e.label));
    }
    return f.hex();
  }

 private:
  bool training() const { return split_ == "train"; }
  ImageTransform transform() const {
    ImageTransform t;
    t.size = r_.c.image_size;
    t.train = training();
    t.eval_center_crop = r_.c.eval_resize == "center_crop";
    return t;
  }

  fs::path index_file(const std::string& split) const {
    if (r_.preset != Preset::None) return preset_split_file(r_.preset, r_.c.root, split);
    std::string name = r_.c.index;
    if (auto p = name.find("{split}"); p != std::string::npos) name.replace(p, 7, split);
    return fs::path(r_.c.root) / name;
  }

  Index read_split(const std::string& split) const {
    if (r_.preset != Preset::None) return read_preset_split(r_.preset, r_.c.root, split);
    return read_index(index_file(split));
  }

  /// One index for every split (with a split column), rather than a preset's or "{split}.csv" files.
  bool one_index() const { return r_.preset == Preset::None && r_.c.index.find("{split}") == std::string::npos; }

  /// The splits of a preset, or those "{split}.csv" files exist for.
  std::vector<std::string> split_files() const {
    if (r_.preset != Preset::None) return preset_splits(r_.preset);
    std::vector<std::string> out;
    const std::string name = r_.c.index, before = name.substr(0, name.find("{split}")), after = name.substr(name.find("{split}") + 7);
    for (const auto& f : fs::directory_iterator(fs::path(r_.c.root) / fs::path(before).parent_path())) {
      const std::string n = f.path().filename().string(), b = fs::path(before).filename().string();
      if (n.size() > b.size() + after.size() && n.rfind(b, 0) == 0 && n.compare(n.size() - after.size(), after.size(), after) == 0)
        out.push_back(n.substr(b.size(), n.size() - b.size() - after.size()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  /// The values of one index's split column, sorted.
  std::vector<std::string> split_names(const Index& index) const {
    std::set<std::string> names;
    for (const auto& row : index.rows)
      if (auto s = row.fields.find(r_.c.split_column); s != row.fields.end()) names.insert(s->second);
    return {names.begin(), names.end()};
  }

  // One index for every split needs the column that says which.
  void require_split_column(const Index& index) const {
    if (std::find(index.columns.begin(), index.columns.end(), r_.c.split_column) == index.columns.end())
      throw sdk::DataError(index.file.string() + " has no '" + r_.c.split_column + "' column saying each row's split (train, "
                           "val, test); add one, name it with split_column, or keep one index per split with index: \"{split}.csv\"");
  }

  int64_t max_label(const std::vector<Index>& indexes) const {
    int64_t best = -1;
    for (const auto& index : indexes)
      for (const auto& row : index.rows) best = std::max(best, label_of(index, row));
    return best;
  }

  int64_t label_of(const Index& index, const IndexRow& row) const {
    const std::string column = r_.preset != Preset::None ? "label" : r_.c.label_column;
    auto it = row.fields.find(column);
    if (it == row.fields.end()) throw sdk::DataError(where(index.file, row.line) + ": no '" + column + "' column");
    const auto& names = r_.c.classes;
    if (!names.empty()) {
      auto n = std::find(names.begin(), names.end(), it->second);
      if (n == names.end())
        throw sdk::DataError(where(index.file, row.line) + ": the label '" + it->second + "' is not one of classes");
      return n - names.begin();
    }
    try {
      size_t used = 0;
      const int64_t v = std::stoll(it->second, &used);
      if (used == it->second.size() && v >= 0) return v;
    } catch (const std::exception&) {
    }
    throw sdk::DataError(where(index.file, row.line) + ": the label '" + it->second +
                         "' is not a class index >= 0 (name the classes with the option classes)");
  }

  Entry entry(const Index& index, const IndexRow& row) const {
    Entry e;
    e.line = row.line;
    e.label = label_of(index, row);
    auto path_of = [&](const std::string& column, const std::string& relative, bool folder) {
      const fs::path p = fs::path(r_.c.root) / relative;
      std::error_code ec;
      if (folder ? !fs::is_directory(p, ec) : !fs::is_regular_file(p, ec))
        throw sdk::DataError(where(index.file, row.line) + ": " + column + ": no " + (folder ? "folder " : "file ") + p.string());
      return p.string();
    };
    auto field = [&](const std::string& column) -> std::string {
      auto it = row.fields.find(column);
      if (it == row.fields.end()) throw sdk::DataError(where(index.file, row.line) + ": no '" + column + "' column");
      return it->second;
    };
    if (r_.preset != Preset::None) {
      const ClipFiles files = preset_files(r_.preset, r_.c.root, split_, field("clip"));
      e.audio = path_of("audio", fs::relative(files.audio, r_.c.root).string(), false);
      e.frames = path_of("visual", fs::relative(files.frames, r_.c.root).string(), true);
      return e;
    }
    if (!r_.audio_name.empty()) e.audio = path_of(r_.audio_name, field(r_.c.audio), false);
    if (!r_.frames_name.empty()) e.frames = path_of(r_.frames_name, field(r_.c.frames), true);
    if (!r_.image_name.empty()) e.image = path_of(r_.image_name, field(r_.c.image), false);
    if (!r_.c.text.empty()) e.text = field(r_.c.text);
    for (const auto& column : r_.c.arrays) e.arrays.push_back(path_of(column, field(column), false));
    if (!r_.c.group_column.empty()) {
      const std::string g = field(r_.c.group_column);
      try {
        e.group = std::stoll(g);
      } catch (const std::exception&) {
        throw sdk::DataError(where(index.file, row.line) + ": the group '" + g + "' is not an integer");
      }
    }
    if (!r_.c.ood_column.empty()) e.ood = field(r_.c.ood_column) == "1" || field(r_.c.ood_column) == "true";
    return e;
  }

  fs::path vocab_file() const {
    if (r_.c.vocab.empty())
      throw sdk::DataError(std::string(kName) + ": the text column '" + r_.c.text + "' needs a vocabulary file (vocab), or "
                           "text_ids: true with vocab_size for pre-tokenised ids");
    const fs::path v(r_.c.vocab);
    return v.is_absolute() ? v : fs::path(r_.c.root) / v;
  }

  int64_t text_vocab_size() const {
    if (r_.c.text_ids && r_.c.vocab_size > 0) return r_.c.vocab_size;
    return Vocabulary(vocab_file()).size();
  }

  at::Tensor tokens(const std::string& text) const {
    const std::vector<int64_t> ids = r_.c.text_ids ? parse_ids(text, r_.c.text_length, vocab_size_)
                                                   : vocabulary_->encode(text, {r_.c.text_length, r_.c.lowercase, r_.c.special_tokens});
    return at::tensor(ids, at::kLong);
  }

  /// A preset's first kept clip's spectrogram (its header gives the audio's shape).
  fs::path first_audio(const std::vector<Index>& indexes, const std::vector<std::string>& splits) const {
    for (size_t k = 0; k < indexes.size(); ++k)
      if (!indexes[k].rows.empty())
        return preset_files(r_.preset, r_.c.root, splits[k], indexes[k].rows.front().fields.at("clip")).audio;
    throw sdk::DataError(std::string(kName) + ": no split file under " + r_.c.root + " lists a clip with its spectrogram");
  }

  /// The file of column in the first row that has it (its header gives the column's shape).
  fs::path first_file(const std::vector<Index>& indexes, const std::string& column) const {
    for (const auto& index : indexes)
      for (const auto& row : index.rows)
        if (auto it = row.fields.find(column); it != row.fields.end()) return fs::path(r_.c.root) / it->second;
    throw sdk::DataError(std::string(kName) + ": no index row has the arrays column '" + column + "'");
  }

  at::Tensor audio(const fs::path& file, std::mt19937_64& rng) const {
    at::Tensor wave = read_audio(file, r_.c.audio_rate);
    const int64_t L = r_.samples(), n = wave.size(0);
    if (n == 0) throw sdk::DataError(file.string() + ": no samples");
    if (r_.audio_fit == "tile") {  // OGM-GE: np.tile(x, 3)[:L], as many repeats as L needs
      wave = wave.repeat({(L + n - 1) / n}).narrow(0, 0, L);
    } else if (n < L) {
      wave = at::constant_pad_nd(wave, {0, L - n});
    } else if (n > L) {
      const int64_t start = training() ? std::uniform_int_distribution<int64_t>(0, n - L)(rng) : (n - L) / 2;
      wave = wave.narrow(0, start, L);
    }
    wave = wave.clamp(-1.0, 1.0).contiguous();
    const StftSettings stft{r_.c.n_fft, r_.c.hop};
    if (r_.c.audio_features == "waveform") return wave;
    if (r_.c.audio_features == "log_mel") return log_mel(wave, stft, r_.c.audio_rate, r_.c.mels);
    return log_stft(wave, stft);
  }

  at::Tensor frames(const fs::path& folder, std::mt19937_64& rng) const {
    return read_clip_frames(folder, {r_.preset, r_.frame_count, transform()}, rng);
  }

  Resolved r_;
  std::string split_;
  uint64_t seed_;
  std::vector<Entry> entries_;
  std::shared_ptr<const Vocabulary> vocabulary_;       // text as words: read at prepare()
  int64_t vocab_size_ = 0;                             // text_ids: ids are below this
  std::vector<std::vector<int64_t>> array_shapes_;     // per arrays column: its first file's shape
  std::vector<int64_t> audio_shape_;                   // kinetics_sounds, ave: the first clip's spectrogram shape
  std::atomic<int64_t> epoch_{0};
};

std::shared_ptr<sdk::Dataset> make(const sdk::BuildArgs& args) {
  const ClipsConfig c = sdk::bind<ClipsConfig>(args.options);
  return std::make_shared<ClipsDataset>(c, args.split.empty() ? "train" : args.split, args.seed);
}

}  // namespace

void register_clips(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "clips";
  d.doc = "Audio files, folders of frames and images on disk, listed by an index (CSV / JSON lines) or laid out as a "
          "preset names (cremad: OGM-GE's CREMA-D); decoded (libsndfile, libsoxr, libjpeg-turbo, libpng) and "
          "augmented as the literature's loaders do";
  d.schema = sdk::schema_of<ClipsConfig>();
  r.add_dataset(std::move(d), make);
}

}  // namespace mmdebias::media_plugin
