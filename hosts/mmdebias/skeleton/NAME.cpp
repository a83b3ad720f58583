// The @NAME@ plugin: exports the entry symbol the host looks for; the components are in @NAME@.hpp.
#include "@NAME@.hpp"

MMDEBIAS_PLUGIN("@NAME@", "0.1.0", "@NAME@: a plugin made from the mmdebias template", @NAME@_plugin::register_components)
