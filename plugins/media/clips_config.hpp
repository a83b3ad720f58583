// The options of media.clips, and the presets that fill them for the layouts researchers already have.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mmdebias/sdk/bind.hpp"

namespace mmdebias::media_plugin {

/// The options of media.clips (flat: the SDK's options are scalars and lists).
struct ClipsConfig {
  std::string preset, root, index, split_column, label_column, group_column, ood_column;
  std::vector<std::string> classes;
  std::string audio, audio_features, audio_fit;
  int64_t audio_rate = 0, n_fft = 0, hop = 0, mels = 0;
  double audio_seconds = 0;
  std::string frames, image, eval_resize;
  int64_t frame_count = 0, image_size = 0;
  std::string text, vocab;
  bool text_ids = false, lowercase = true, special_tokens = false;
  int64_t text_length = 0, vocab_size = 0;
  std::vector<std::string> arrays;

  static void declare(sdk::OptionBinder<ClipsConfig>& b) {
    b.choice("preset", &ClipsConfig::preset, "none", {"none", "cremad", "kinetics_sounds", "ave"},
             "A layout as the literature prepares it (docs/datasets.md draws each tree): cremad = OGM-GE's CREMA-D "
             "(AudioWAV/, Image-01-FPS/, train.csv, test.csv); kinetics_sounds = BalanceBenchmark's (ks_<split>_overlap.txt, "
             "<split>_spec/*.npy, <split>-frames-1fps/<split>/); ave = OGM-GE's AVE (my_<split>.txt, stat.txt, "
             "audio_spec/*.npy, visual/); sets the options below to the release's");
    b.required("root", &ClipsConfig::root, "The dataset's folder; the index's paths are relative to it");
    b.option("index", &ClipsConfig::index, "index.csv",
             "The index under root: .csv with a header row or .jsonl; \"{split}.csv\" reads one file per split");
    b.option("split_column", &ClipsConfig::split_column, "split", "The column naming each row's split (one index for all splits)");
    b.option("label_column", &ClipsConfig::label_column, "label", "The class column: an index 0..C-1, or a name of `classes`");
    b.option("classes", &ClipsConfig::classes, {}, "Class names in index order, when the label column holds names");
    b.option("group_column", &ClipsConfig::group_column, "", "An optional integer group column (worst-group accuracy)");
    b.option("ood_column", &ClipsConfig::ood_column, "", "An optional 0/1 column: 1 = out-of-distribution");
    b.option("audio", &ClipsConfig::audio, "", "The column of audio files (WAV, FLAC, OGG); the modality takes its name");
    b.option("audio_rate", &ClipsConfig::audio_rate, 22050, "Sample rate the audio is resampled to (Hz)").range(1000, 384000);
    b.option("audio_seconds", &ClipsConfig::audio_seconds, 3.0, "Duration cut or padded to").range(0.01, 600.0);
    b.choice("audio_fit", &ClipsConfig::audio_fit, "auto", {"auto", "pad", "tile"},
             "A shorter clip: zero-padded (pad), or repeated (tile, OGM-GE); a longer one: a random segment in training, "
             "the centred one in evaluation (pad), or its start (tile). auto: the preset's, else pad");
    b.choice("audio_features", &ClipsConfig::audio_features, "log_stft", {"waveform", "log_stft", "log_mel"},
             "The waveform [L], log(|STFT| + 1e-7) [n_fft/2+1, frames] (OGM-GE) or log mel [mels, frames]");
    b.option("n_fft", &ClipsConfig::n_fft, 512, "STFT size (periodic Hann window, centred frames)").range(16, 65536);
    b.option("hop", &ClipsConfig::hop, 353, "STFT hop (samples)").range(1, 65536);
    b.option("mels", &ClipsConfig::mels, 64, "Mel bands (log_mel)").range(1, 1024);
    b.option("frames", &ClipsConfig::frames, "", "The column of frame folders (JPEG/PNG per clip); the modality takes its name");
    b.option("frame_count", &ClipsConfig::frame_count, 0,
             "Frames per clip, one per equal segment: random within it in training, its middle in evaluation; "
             "0: the preset's (cremad 1, as OGM-GE's --fps 1), else 3").range(0, 256);
    b.option("image", &ClipsConfig::image, "", "The column of single images (JPEG/PNG)");
    b.option("image_size", &ClipsConfig::image_size, 224, "Side of frames and images after the transforms").range(8, 4096);
    b.choice("eval_resize", &ClipsConfig::eval_resize, "square", {"square", "center_crop"},
             "Evaluation: Resize((s, s)) (OGM-GE) or Resize(s*256/224) + CenterCrop(s)");
    b.option("text", &ClipsConfig::text, "", "The column of text (the words themselves, or ids with text_ids); the modality "
             "takes its name and is token ids [text_length], 0 padding");
    b.option("vocab", &ClipsConfig::vocab, "", "The vocabulary file (BERT's vocab.txt format: a token per line, id = line - 1, "
             "line 1 the padding token); relative paths are under root. Text is split at spaces and punctuation, then into "
             "WordPiece pieces (\"##\" continuations); an unknown word is [UNK]");
    b.option("text_ids", &ClipsConfig::text_ids, false, "The text column holds pre-tokenised ids (\"101 2023 102\") rather than words");
    b.option("vocab_size", &ClipsConfig::vocab_size, 0, "Ids of a pre-tokenised column are below this (0: the vocabulary's size)").range(0, int64_t{1} << 31);
    b.option("text_length", &ClipsConfig::text_length, 64, "Ids per sample: longer text is cut, shorter padded with 0").range(1, 65536);
    b.option("lowercase", &ClipsConfig::lowercase, true, "Lower-case the text first (uncased vocabularies)");
    b.option("special_tokens", &ClipsConfig::special_tokens, false, "[CLS] first and [SEP] last, as BERT's inputs");
    b.option("arrays", &ClipsConfig::arrays, {}, "Columns of .npy files (np.save), one per sample: features computed "
             "beforehand, each column a modality named after it, float32, of its first file's shape");
  }
};

}  // namespace mmdebias::media_plugin
