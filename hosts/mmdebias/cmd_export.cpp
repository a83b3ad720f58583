// `mmdebias export RUN_DIR --out DIR`: a run's trained inference pipeline for PyTorch (TorchScript + safetensors).
#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/export.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_export(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  add_trust_option(options);
  options.add_options()("out", po::value<std::string>(), "the directory to write (new, or empty)")(
      "checkpoint", po::value<std::string>(), "export this checkpoint (a file name in RUN_DIR/checkpoints) instead of the latest");
  po::positional_options_description positional;
  add_positional_args(options, positional, "RUN_DIR then key.path=value overrides");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias export RUN_DIR --out DIR [--checkpoint ckpt-<step>.pt]\n"
             "Writes the run's inference pipeline (encoders, fusion, head and the interventions' prediction adjustments)\n"
             "as DIR/model.pt, a TorchScript module: torch.jit.load(\"DIR/model.pt\")({\"<modality>\": x, ...}) gives the\n"
             "logits; DIR/weights.safetensors (every parameter and buffer by name), DIR/pipeline.json (what it holds) and\n"
             "DIR/samples.pt (torch.load: the first evaluation samples with mmdebias's logits, to check a load against).\n"
             "A prediction that is no fixed tensor function (it draws random numbers, or branches on values) is refused."))
    return 0;
  std::vector<std::string> rest = positional_args(vm);
  if (rest.empty()) throw core::InputError("mmdebias export: a RUN_DIR is required (see mmdebias export --help)");
  if (!vm.count("out")) throw core::InputError("mmdebias export: --out DIR is required (see mmdebias export --help)");
  const std::string out = vm["out"].as<std::string>();
  nlohmann::json d = core::export_run(rest[0], out, core::parse_overrides({rest.begin() + 1, rest.end()}), search_path(vm),
                                      vm.count("checkpoint") ? vm["checkpoint"].as<std::string>() : "");
  std::cout << "exported " << rest[0] << " (" << d["checkpoint"].get<std::string>() << ", step " << d["step"] << ") to " << out
            << "\n  model.pt              TorchScript, " << d["batching"].get<std::string>() << "; in Python:\n"
            << "                        logits = torch.jit.load(\"" << out << "/model.pt\")({";
  bool first = true;
  for (const auto& i : d["inputs"]) {
    std::cout << (first ? "" : ", ") << "\"" << i["name"].get<std::string>() << "\": x_" << i["name"].get<std::string>();
    first = false;
  }
  std::cout << "})\n  weights.safetensors   every parameter and buffer by name\n"
            << "  pipeline.json         inputs, components, options\n"
            << "  samples.pt            torch.load: the first evaluation samples, with mmdebias's logits\n";
  if (!d["in_prediction"].empty()) std::cout << "  prediction adjusted by: " << d["in_prediction"].dump() << "\n";
  return 0;
}

}  // namespace mmdebias::host
