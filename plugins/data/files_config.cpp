// The options of data.files and their resolution against the directory (see files_config.hpp).
#include "files_config.hpp"

#include <algorithm>
#include <system_error>

#include "files_columns.hpp"
#include "files_layout.hpp"
#include "mmdebias/sdk/data.hpp"

namespace mmdebias::data_plugin::files {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what) { throw sdk::DataError("data.files: " + what); }

// The option vocab_sizes ("name=V" entries) as a map.
std::map<std::string, int64_t> parse_vocab(const std::vector<std::string>& entries) {
  std::map<std::string, int64_t> vocab;
  for (const auto& entry : entries) {
    const size_t eq = entry.find('=');
    int64_t v = -1;
    if (eq != std::string::npos && eq > 0) {
      try {
        size_t used = 0;
        v = std::stoll(entry.substr(eq + 1), &used);
        if (used != entry.size() - eq - 1) v = -1;
      } catch (const std::exception&) {
        v = -1;
      }
    }
    if (v <= 0) fail("vocab_sizes entry '" + entry + "' is not of the form name=V with V >= 1");
    vocab[entry.substr(0, eq)] = v;
  }
  return vocab;
}

}  // namespace

void Config::declare(sdk::OptionBinder<Config>& b) {
  b.required("root", &Config::root_option,
             "Directory holding one subdirectory per split (train/, test/, ...) of .npy files");
  b.option("modalities", &Config::modalities, {},
           "Modalities to serve, in this order; [] = every .npy that is not label, group, environment or ood, "
           "sorted by name");
  b.option("num_classes", &Config::num_classes, 0,
           "Number of in-distribution classes; 0 = 1 + the largest non-OOD label of every split (warned of when most "
           "classes would be empty)")
      .range(0, static_cast<double>(kMaxClasses));
  b.option("num_groups", &Config::num_groups, 0,
           "Number of group ids; 0 = 1 + the largest id in every split's group.npy (0 without one)")
      .at_least(0);
  b.option("vocab_sizes", &Config::vocab_sizes, {},
           "Vocabulary of token modalities as name=V; a token modality not listed gets 1 + its largest id over "
           "every split");
}

Config read_config(const sdk::BuildArgs& args) {
  Config c = sdk::bind<Config>(args.options);
  c.root = c.root_option;
  c.split = args.split.empty() ? "train" : args.split;
  if (c.root.empty()) fail("option root is empty; give the directory that holds one subdirectory per split");
  std::error_code ec;
  if (!fs::is_directory(c.root, ec)) fail("root '" + c.root.string() + "' is not a directory");
  for (const auto& e : fs::directory_iterator(c.root, ec))
    if (e.is_directory(ec) && !npy_names(e.path()).empty()) c.splits.push_back(e.path().filename().string());
  std::sort(c.splits.begin(), c.splits.end());
  if (std::find(c.splits.begin(), c.splits.end(), c.split) == c.splits.end()) {
    std::string have;
    for (const auto& s : c.splits) have += (have.empty() ? "" : ", ") + s;
    fail("no split '" + c.split + "' under " + c.root.string() + " (a split is a subdirectory holding .npy files; found: " +
         (have.empty() ? "none" : have) + ")");
  }
  if (c.modalities.empty()) {
    for (const auto& n : npy_names(c.root / c.split))
      if (!is_column(n)) c.modalities.push_back(n);
    if (c.modalities.empty())
      fail((c.root / c.split).string() + " holds no modality file (only " + "label/group/environment/ood columns); "
           "save one .npy per modality, e.g. np.save(\"" + (c.root / c.split / "image.npy").string() + "\", X)");
  }
  for (const auto& m : c.modalities)
    if (is_column(m)) fail("modality '" + m + "' is a reserved column name (label, group, environment, ood)");
  c.vocab = parse_vocab(c.vocab_sizes);
  return c;
}

}  // namespace mmdebias::data_plugin::files
