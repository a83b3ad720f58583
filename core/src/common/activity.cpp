#include "common/activity.hpp"

#include <algorithm>
#include <cstring>

namespace mmdebias::core {
namespace {

char g_activity[1024];  // written by the thread doing setup; read (and only read) by signal handlers

void set_activity(const std::string& what) {
  // A handler may read while this writes: the terminator goes first, so it reads a prefix at worst.
  g_activity[0] = '\0';
  const size_t n = std::min(what.size(), sizeof g_activity - 1);
  std::memcpy(g_activity + 1, what.data() + (n > 0 ? 1 : 0), n > 0 ? n - 1 : 0);
  g_activity[n] = '\0';
  if (n > 0) g_activity[0] = what[0];
}

}  // namespace

ActivityNote::ActivityNote(const std::string& what) : previous_(g_activity) { set_activity(what); }

ActivityNote::~ActivityNote() { set_activity(previous_); }

const char* current_activity() { return g_activity; }

}  // namespace mmdebias::core
