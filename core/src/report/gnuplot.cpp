// Drawing the report's plots: one gnuplot process renders every figure to SVG in a temporary directory;
// each SVG is then made fit to inline in HTML (no XML prolog, ids prefixed so figures do not share them).
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/small_file.hpp"
#include "mmdebias/core/errors.hpp"
#include "report/detail.hpp"

extern char** environ;

namespace mmdebias::core::report {
namespace fs = std::filesystem;
namespace {

// gnuplot on PATH (MMDEBIAS_GNUPLOT names another binary), or empty.
fs::path find_gnuplot() {
  if (const char* own = std::getenv("MMDEBIAS_GNUPLOT"); own && *own) return fs::path(own);
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / "gnuplot";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// Removes the temporary directory however drawing ends.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mmdebias-report-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw RunError("cannot create a temporary directory under " + fs::temp_directory_path().string());
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// The SVG element alone, its ids (and references to them) prefixed with the figure's id.
std::string inline_svg(const std::string& svg, const std::string& prefix) {
  std::string out = svg.substr(std::min(svg.size(), svg.find("<svg")));
  out = std::regex_replace(out, std::regex(R"~(\bid=(['"]))~"), "id=$1" + prefix + "-");
  out = std::regex_replace(out, std::regex(R"~(href=(['"])#)~"), "href=$1#" + prefix + "-");
  out = std::regex_replace(out, std::regex(R"~(url\(#)~"), "url(#" + prefix + "-");
  return out;
}

int run_gnuplot(const fs::path& gnuplot, const fs::path& script, const fs::path& errors) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string program = gnuplot.string(), file = script.string();
  char* argv[] = {program.data(), file.data(), nullptr};
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw RunError("cannot start " + program + ": " + std::strerror(spawned));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::vector<Figure> draw(const std::vector<Plot>& plots) {
  const fs::path gnuplot = find_gnuplot();
  if (gnuplot.empty())
    throw InputError("mmdebias report draws its plots with gnuplot, which is not on PATH: install Debian's gnuplot-nox "
                     "(apt-get install gnuplot-nox), or name a gnuplot binary in MMDEBIAS_GNUPLOT");
  TempDir tmp;
  // One palette for every figure (colour-blind safe Tableau 10; 10 is grey); linetypes outlive `reset`.
  std::string script;
  const char* palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#a0a0a0"};
  for (int i = 0; i < 10; ++i) script += "set linetype " + std::to_string(i + 1) + " lc rgb \"" + palette[i] + "\"\n";
  for (size_t i = 0; i < plots.size(); ++i) {
    // reset clears the previous figure's settings; noenhanced keeps '_' and '^' in metric names literal.
    script += "reset\nset terminal svg size 600,380 noenhanced font \"sans,11\" background \"white\"\nset output \"" +
              (tmp.path / (std::to_string(i) + ".svg")).string() + "\"\n" + plots[i].script + "unset output\n";
  }
  const fs::path script_file = tmp.path / "report.gp", errors = tmp.path / "gnuplot.log";
  std::ofstream(script_file) << script;
  const int code = run_gnuplot(gnuplot, script_file, errors);
  if (code != 0) throw RunError("gnuplot (" + gnuplot.string() + ") failed with exit code " + std::to_string(code) + ":\n" + read_text_file(errors));
  std::vector<Figure> figures;
  for (size_t i = 0; i < plots.size(); ++i) {
    const fs::path svg = tmp.path / (std::to_string(i) + ".svg");
    if (!fs::exists(svg)) throw RunError("gnuplot wrote no figure for '" + plots[i].id + "':\n" + read_text_file(errors));
    figures.push_back({plots[i], inline_svg(read_text_file(svg), plots[i].id)});
  }
  return figures;
}

}  // namespace mmdebias::core::report
