// The ogm plugin's entry symbol; the component is in ogm.hpp.
#include "ogm.hpp"

MMDEBIAS_PLUGIN("ogm", "0.1.0", "OGM-GE gradient modulation (an out-of-tree example plugin)", ogm_plugin::register_components)
