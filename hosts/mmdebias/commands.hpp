// The host's subcommands; each takes its own arguments (after the subcommand name) and returns an exit code.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "mmdebias/core/plugin_host.hpp"
#include "mmdebias/core/run.hpp"

namespace mmdebias::host {

/// Arguments after the subcommand name.
using Args = std::vector<std::string>;

/// `mmdebias plugins [--json] [--verify [FILE...]]`.
int cmd_plugins(const Args& args);
/// `mmdebias describe COMPONENT [--json]`.
int cmd_describe(const Args& args);
/// `mmdebias validate MANIFEST [k=v ...]`.
int cmd_validate(const Args& args);
/// `mmdebias run MANIFEST [--out DIR] [k=v ...]` and `mmdebias run --resume DIR`.
int cmd_run(const Args& args);
/// `mmdebias sweep MANIFEST [k=v1,v2 ...] --out DIR [--seeds 0-4] [--jobs N] [--baseline k=v]`.
int cmd_sweep(const Args& args);
/// `mmdebias eval RUN_DIR [k=v ...]`.
int cmd_eval(const Args& args);
/// `mmdebias export RUN_DIR --out DIR`: the trained pipeline as TorchScript + safetensors.
int cmd_export(const Args& args);
/// `mmdebias demo [--out DIR]`: the embedded default manifest.
int cmd_demo(const Args& args);
/// `mmdebias report RUN_DIR [B_RUN_DIR] [--out FILE]`: a self-contained HTML report of a run, or two compared.
int cmd_report(const Args& args);
/// `mmdebias new-plugin NAME [DIR]`: a plugin skeleton that builds against the installed SDK.
int cmd_new_plugin(const Args& args);

/// Runs request (search path from vm) and prints the summary table; returns the exit code (128 + signal when stopped).
int run_and_print(core::RunRequest request, const boost::program_options::variables_map& vm);

/// Adds --plugin-path and --help to a subcommand's options.
void add_common_options(boost::program_options::options_description& options);
/// Adds --trusted-plugins-only (validate, run, eval: the commands that read a manifest).
void add_trust_option(boost::program_options::options_description& options);
/// Declares the positional words (e.g. "MANIFEST then key.path=value overrides") under the name "args".
void add_positional_args(boost::program_options::options_description& options,
                         boost::program_options::positional_options_description& positional, const char* doc);
/// The positional words, possibly none.
std::vector<std::string> positional_args(const boost::program_options::variables_map& vm);
/// Parses args against options and positional names; returns false (after printing help) when --help was given.
bool parse(const Args& args, const boost::program_options::options_description& options,
           const boost::program_options::positional_options_description& positional,
           boost::program_options::variables_map& vm, const std::string& usage);
/// The search path from --plugin-path, MMDEBIAS_PLUGIN_PATH and the shipped directory (plus manifest paths), and
/// --trusted-plugins-only.
core::SearchPath search_path(const boost::program_options::variables_map& vm,
                             const std::vector<std::filesystem::path>& manifest_paths = {});

}  // namespace mmdebias::host
