// Everything a plugin author needs, in one include.
#pragma once

#include "mmdebias/sdk/abi.hpp"
#include "mmdebias/sdk/attention.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/context.hpp"
#include "mmdebias/sdk/data.hpp"
#include "mmdebias/sdk/gradient.hpp"
#include "mmdebias/sdk/model.hpp"
#include "mmdebias/sdk/options.hpp"
#include "mmdebias/sdk/plugin.hpp"
#include "mmdebias/sdk/registrar.hpp"
#include "mmdebias/sdk/sink.hpp"
#include "mmdebias/sdk/step.hpp"
#include "mmdebias/sdk/tensor_dataset.hpp"
#include "mmdebias/sdk/terms.hpp"
