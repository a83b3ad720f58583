#include <iostream>

#include "commands.hpp"

namespace mmdebias::host {

// Replaced once core's manifest validation lands.
int cmd_validate(const Args&) {
  std::cerr << "validate: not yet available\n";
  return 1;
}

}  // namespace mmdebias::host
