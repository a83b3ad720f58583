// mmdebias-bench-baseline: the hand-written LibTorch loop that bench/run compares the host against.
// The model is what the host builds from a std.gaussian manifest with std.mlp encoders and std.concat
// fusion (plugins/std/mlp_encoder.cpp, concat_fusion.cpp): per modality Linear -> ReLU ... -> Linear,
// concatenated, one Linear head, cross-entropy, Adam with LibTorch's defaults and the manifest's lr. No
// plugins, no hooks, no loader thread: the data is generated in memory up front and each batch is an
// index_select of a per-epoch permutation, which is how a user would write it by hand.
//
// It times the same interval as bench/run reads from the host's metrics.jsonl: from the end of step
// `--warmup` to the end of step `--steps`, and prints one JSON line.
//
//   mmdebias-bench-baseline train --modalities 2 --dim 16 --hidden 64 --out-dim 32 --classes 4 \
//       --batch 64 --steps 2000 --warmup 200 --threads 1 [--log-every 10] [--device cpu]
//   mmdebias-bench-baseline mm --size 2048 --repeats 5 --threads 1     # measured float32 GEMM peak
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Args {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  int64_t integer(const std::string& key, int64_t fallback) const { return std::stoll(get(key, std::to_string(fallback))); }
  std::vector<int64_t> integers(const std::string& key, const std::string& fallback) const {
    std::vector<int64_t> out;
    std::stringstream in(get(key, fallback));
    for (std::string part; std::getline(in, part, ',');)
      if (!part.empty()) out.push_back(std::stoll(part));
    return out;
  }
};

Args parse(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument("expected --key value pairs, got '" + key + "'");
    a.values[key.substr(2)] = argv[++i];
  }
  return a;
}

// std.mlp with relu, no dropout, no layer norm.
struct MlpImpl : torch::nn::Module {
  MlpImpl(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
    for (size_t i = 0; i < hidden.size(); ++i) {
      layers.push_back(register_module("linear" + std::to_string(i), torch::nn::Linear(in, hidden[i])));
      in = hidden[i];
    }
    head = register_module("out", torch::nn::Linear(in, out));
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& l : layers) x = torch::relu(l->forward(x));
    return head->forward(x);
  }
  std::vector<torch::nn::Linear> layers;
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Mlp);

// Encoders + std.concat: cat of the pooled features, one linear head.
struct ConcatModelImpl : torch::nn::Module {
  ConcatModelImpl(int64_t modalities, int64_t dim, const std::vector<int64_t>& hidden, int64_t out_dim, int64_t classes) {
    for (int64_t m = 0; m < modalities; ++m) encoders.push_back(register_module("m" + std::to_string(m), Mlp(dim, hidden, out_dim)));
    head = register_module("head", torch::nn::Linear(out_dim * modalities, classes));
  }
  torch::Tensor forward(const std::vector<torch::Tensor>& inputs) {
    std::vector<torch::Tensor> z;
    for (size_t m = 0; m < encoders.size(); ++m) z.push_back(encoders[m]->forward(inputs[m]));
    return head->forward(torch::cat(z, 1));
  }
  std::vector<Mlp> encoders;
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ConcatModel);

int train(const Args& a) {
  const int64_t modalities = a.integer("modalities", 2), dim = a.integer("dim", 16), out_dim = a.integer("out-dim", 32);
  const int64_t classes = a.integer("classes", 4), batch = a.integer("batch", 64), steps = a.integer("steps", 1000);
  const int64_t warmup = a.integer("warmup", steps / 10), n = a.integer("samples", 4000), log_every = a.integer("log-every", 10);
  const std::vector<int64_t> hidden = a.integers("hidden", "64");
  const double lr = std::stod(a.get("lr", "0.001"));
  const torch::Device device(a.get("device", "cpu"));
  if (warmup >= steps) throw std::invalid_argument("--warmup must be below --steps");
  torch::manual_seed(0);

  // The data, in memory: class means plus noise, as std.gaussian generates it (the values do not matter for time).
  std::vector<torch::Tensor> x;
  torch::Tensor y = torch::randint(classes, {n}, torch::kLong).to(device);
  for (int64_t m = 0; m < modalities; ++m) x.push_back(torch::randn({n, dim}).to(device));

  ConcatModel model(modalities, dim, hidden, out_dim, classes);
  model->to(device);
  model->train();
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(lr));

  const int64_t per_epoch = n / batch;  // drop_last, as the host's loader would with full batches
  torch::Tensor order;
  Clock::time_point t0;
  double cpu0 = 0;
  double last_loss = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t b = step % per_epoch;
    if (b == 0) order = torch::randperm(n, torch::kLong).to(device);
    torch::Tensor idx = order.narrow(0, b * batch, batch);
    std::vector<torch::Tensor> inputs;
    for (auto& t : x) inputs.push_back(t.index_select(0, idx));
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(inputs), y.index_select(0, idx));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    // What a loop that logs does; the last read also drains a CUDA stream before the clock stops.
    if ((step + 1) % log_every == 0 || step + 1 == steps) last_loss = loss.item<double>();
    if (step + 1 == warmup) {
      if (device.is_cuda()) loss.item<double>();  // drains the stream: the clock starts after step `warmup`
      t0 = Clock::now();
      cpu0 = process_cpu_seconds();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = process_cpu_seconds() - cpu0;
  const auto samples = static_cast<double>((steps - warmup) * batch);
  std::printf("{\"steady_samples_per_s\": %.3f, \"steady_samples_per_cpu_s\": %.3f, \"steady_seconds\": %.6f, \"steady_steps\": %lld, "
              "\"threads\": %d, \"last_loss\": %.6f}\n",
              samples / seconds, samples / cpu, seconds, static_cast<long long>(steps - warmup), at::get_num_threads(), last_loss);
  return 0;
}

// The float32 GEMM peak that LibTorch reaches on this machine with these threads: median of `repeats`.
int mm_peak(const Args& a) {
  const int64_t size = a.integer("size", 2048), repeats = a.integer("repeats", 5);
  const torch::Device device(a.get("device", "cpu"));
  torch::Tensor p = torch::randn({size, size}).to(device), q = torch::randn({size, size}).to(device), r;
  r = torch::mm(p, q);  // warm-up
  std::vector<double> rates, cpu_rates;
  const double flops = 2.0 * static_cast<double>(size) * size * size;
  for (int64_t i = 0; i < repeats; ++i) {
    auto t0 = Clock::now();
    const double c0 = process_cpu_seconds();
    r = torch::mm(p, q);
    if (device.is_cuda()) r.sum().item<double>();
    rates.push_back(flops / std::chrono::duration<double>(Clock::now() - t0).count());
    cpu_rates.push_back(flops / (process_cpu_seconds() - c0));
  }
  std::sort(rates.begin(), rates.end());
  std::sort(cpu_rates.begin(), cpu_rates.end());
  // Per CPU second (all threads): with one pinned thread, the rate the core reaches when it is not shared.
  std::printf("{\"mm_flops\": %.6e, \"mm_flops_min\": %.6e, \"mm_flops_max\": %.6e, \"mm_flops_per_cpu_s\": %.6e, \"size\": %lld, "
              "\"threads\": %d}\n",
              rates[rates.size() / 2], rates.front(), rates.back(), cpu_rates[cpu_rates.size() / 2], static_cast<long long>(size),
              at::get_num_threads());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw std::invalid_argument("usage: mmdebias-bench-baseline train|mm [--key value ...]");
    const std::string mode = argv[1];
    Args a = parse(argc, argv, 2);
    at::set_num_threads(static_cast<int>(a.integer("threads", 1)));
    if (mode == "train") return train(a);
    if (mode == "mm") return mm_peak(a);
    throw std::invalid_argument("unknown mode '" + mode + "' (train or mm)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmdebias-bench-baseline: %s\n", e.what());
    return 2;
  }
}
