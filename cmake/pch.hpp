// The heavy LibTorch headers every target uses, precompiled once.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/loss.h>
#include <map>
#include <memory>
#include <string>
#include <vector>
