"""The written part of docs/benchmarks.md: profiles of the goals missed and what was done about them.

These figures come from profiles taken by hand (the commands are given), not from the run that wrote the
tables above; keep them in step with the code when it changes.
"""
ANALYSIS = """
## Where a goal is missed: profiles, fixes and floors

Profiles of the LibTorch 1.13 build (Debian's), taken on 2026-11-25 on the machine of that part above (`perf`
works in this container): the small model's on a quiet machine after this round's fixes, the older ones at
load average 8-13 from other builds. Shares are of the process's CPU samples, so they do not depend on the load.

### Plugin overhead and the small model against PyTorch (goals 1 and 2, small model)

Fixed in this round, each with the weights bitwise unchanged (`params_sha256` 82af8b18… for
`bench/models/small.yaml` before and after every change): host / hand-written loop went from 0.63 to 0.89 by
CPU time and host / PyTorch from 1.07x to 1.55x (goal 2 met):

- **batched reads** (SDK: `Dataset::get_batch(indices, batch)`, appended last; `TensorDataset` — std.gaussian,
  data.fashion_captions, data.av_digits — does one `index_select` per column, data.files one gather of rows per
  file; the per-sample `get` + collate path stays the default): the per-sample calls and collation were 11% of
  the host's CPU; tests `test_get_batch.cpp` (bitwise equal to collating `get()`), `test_data_loader_batched.cpp`;
- **in-line loading** (`run.prefetch: 0`, PyTorch's `num_workers=0`): no loader thread; on one pinned core the
  thread could only take turns with the step (9% less CPU in-line, 5 alternating rounds); section 1 uses it;
- **one collective per step** (below, section 6) also removed the loss terms' tensor `cat`/`to(double)`: they
  are read with `item()` into plain doubles;
- **per-modality logits** are computed in training only when an estimator or intervention declares it needs
  them (std.concat's two extra `linear` calls per step); evaluation always computes them;
- **no multiply by a loss weight of 1** (the op, its scalar wrapping and its backward).

Where the remaining gap sits — both programs profiled alike on the quiet machine (4000 steps, one pinned
core; a sample is 0.5 ms, so samples / 8 = µs per step):

```sh
taskset -c 1 perf record -F 2000 --call-graph dwarf,16384 -o host.data -- \
  build/bin/mmdebias run bench/models/small.yaml --out /tmp/p train.steps=4000
taskset -c 1 perf record -F 2000 --call-graph dwarf,16384 -o base.data -- build/bin/mmdebias-bench-baseline train \
  --modalities 2 --dim 16 --hidden 64 --out-dim 32 --classes 4 --batch 64 --samples 4096 --steps 4000 --warmup 500 --threads 1
perf report -i host.data --children --sort sym -g none -n
```

| part | host, µs/step | hand-written loop, µs/step |
|---|---|---|
| whole training loop (`Trainer::run` / `main`) | 389 | 344 |
| Adam step | 143 | 136 |
| backward | 132 | 117 |
| forward (encoders, fuse, head) | 58 | about 62 (the rest of `main`) |
| loss (cross-entropy; host: + term bookkeeping) | 16 | 12 |
| reading the batch (host: `get_batch`, 5 `index_select`s incl. group and ood, checks; loop: 3 `index_select`s) | 21 | 14 |
| the rest of the host's step: metrics line every 10 steps 2.4, progress 2.1, `item`, learning rates, `Module::train`, hook loops | 15 | — |

The gap, about 45 µs per step, is spread thin: no part of the host's step is more than 16 µs above the
loop's, and the parts that are (the extra columns the SDK's batch carries, the metrics and progress lines, the
loss terms' names and values, three optimizer parameter groups — one per component, for per-component `lr` —
against one) are what the host is for. The backward's 15 µs has no extra node behind it (the same graph: the
loss is no longer multiplied by 1, inputs need no grad); we read it as cache and allocator state of a bigger
process and leave it unexplained. **This is the floor of a general host on a 0.34 ms step:** ~45 µs of fixed
per-step cost, which is within 3% for steps of 1.5 ms or more — the GEMM-bound model's host / loop ratio is
1.00 (section 1). Goal 1 (<= 3% on the small model) stays missed by that fixed cost.

### The GEMM-bound model against PyTorch (goal 2, large model)

Missed by about 5% (0.94x by CPU time in this run, rounds 0.86..1.03; the host equals the hand-written loop,
1.00). The profile below, taken earlier, still explains it: nothing of the host's changed on this path.

Host, hand-written loop and PyTorch run the same OpenBLAS kernels (`sgemm_kernel_COOPERLAKE` is the top
symbol of each in `perf report`). What separated them was glibc: LibTorch's CPU allocator takes the step's
1-4 MiB buffers from `malloc`, which by default maps and unmaps them (and trims the heap) every step, so each
step page-faults them in again (`exc_page_fault` and `clear_page_erms` rank high in the host's profile). The
Python process was less affected (why, we did not establish). The baseline program, alternating on one core:

```sh
B="build/bin/mmdebias-bench-baseline train --modalities 2 --dim 256 --hidden 1024,1024 --out-dim 256 --classes 16 --batch 256 --samples 4096 --steps 12 --warmup 4 --threads 1"
OMP_NUM_THREADS=1 taskset -c 1 $B
GLIBC_TUNABLES=glibc.malloc.trim_threshold=2000000000:glibc.malloc.mmap_threshold=2000000000 OMP_NUM_THREADS=1 taskset -c 1 $B
```

gave 3323 and 3509 samples per CPU second by default, 3757 and 3843 with the buffers kept (PyTorch 3499 and
3881 in the same rounds). Doing the same in the host (`mallopt(M_MMAP_THRESHOLD, 32 MiB)` and
`mallopt(M_TRIM_THRESHOLD, 1 GiB)` at start) made it 3789 and 3442 against PyTorch's 3228 and 3504 in two
direct rounds, but it was taken back: the kept heap fragments, and the peak RSS of an MCR run grew to 3.2x
the memory `mmdebias validate --cost` estimates (test `cli.validate_cost` allows 1x..3x). So the remaining
gap to PyTorch on this model, a few percent and inside the rounds' spread at this load, is glibc's
returning and re-faulting of step buffers; a caching CPU allocator for LibTorch (or a trim threshold chosen
against that test) is the way to close it without the memory cost. Everything else is the same kernels.

### The allocator (issue 24): what keeps step buffers, measured on both builds

Measured on this machine (Intel Xeon VM, 2 cores; Debian's OpenBLAS does not recognise its CPU and runs its
Prescott fallback kernels, ~15 GFLOP/s, so the 1.13 GEMM step is compute-bound; the wheel's MKL reaches ~150):
the hand-written loop (`mmdebias-bench-baseline train`, the GEMM-bound model, 30 steps, 1 pinned thread), three
alternating rounds per pair, samples per CPU second:

| build | glibc default | jemalloc (`LD_PRELOAD`) | glibc, buffers kept (`GLIBC_TUNABLES` mmap 32 MiB, trim 4 GiB) |
|---|---|---|---|
| 1.13 (OpenBLAS, Prescott) | 1438 / 1562 / 1617 | 1.020 / 1.030 / 1.007 x | 1.018 / 0.997 x (2 rounds) |
| 2.x (MKL) | 5776 / 5899 / 5662 | 0.938 / 0.882 / 0.935 x | 1.080 / 1.134 / 1.050 x |

Peak RSS growth of `cli.validate_cost`'s MCR pair against `validate --cost`'s 131 MiB estimate (the test allows
1x..3x): 1.13 353 MiB by default, 395 MiB (3.0x: fails) with the buffers kept; 2.x 214 MiB by default, 264 MiB with
the buffers kept in the environment and 280 MiB (2.1x) with `mallopt` in the host. So a run keeps its freed step
buffers (`mallopt(M_MMAP_THRESHOLD, 32 MiB)`, `mallopt(M_TRIM_THRESHOLD, 1 GiB)` when its session opens) in the
2.x build only (`compat::kKeepFreedStepBuffers`, core/src/compat/torch.hpp): there it gains 5-13% within the memory
bound, and the 2.x part above meets goal 2 on the GEMM-bound model (1.13x PyTorch eager; the host is faster than the
loop there because the loop keeps glibc's default). On 1.13 here it gains nothing measurable and breaks the memory
bound, so it stays off. jemalloc, tried first, was 6-12% slower than glibc with MKL and is not used. The earlier
figures above (an AMD EPYC machine, OpenBLAS's Haswell/Cooperlake kernels, the allocator worth ~1.45x there) were
not re-measured: a 1.13 host on such a machine may still want the buffers kept, with `validate --cost` counting
them — left open.

### Data wait (goal 4)

Met for every dataset since the batched reads (section 4 runs the default loader thread, `run.prefetch=4`).
Before them, std.gaussian's wait was 3.5%: with one pinned core the loader and the step share that core, so
the step waits whenever the loader has not yet had its turn, and the per-sample `get` + collate made the
loader's turn long. In-line loading (`run.prefetch: 0`) counts the read itself as waiting (4.9% on
std.gaussian, one pinned core), which is why section 4 measures the thread.

### Distributed (section 6): one collective per step

Before this round two ranks of one thread each, pinned to different cores, trained no faster than one rank of
one thread (1.01x). A tiny model showed why: with 8-wide encoders (batch 32 per rank, gradients of a few KiB)
a step took 0.42 ms with one rank and 4.4 ms with two — latency, not bandwidth (`GLOO_SOCKET_IFNAME=lo` made
no difference). A step made three allreduces (the loss terms with the stop request, the used-parameter flags,
the gradient bucket); each hands off between the step's thread, Gloo's worker and its device loop on both
ranks, and on this 2-vCPU virtual machine each wake-up costs. **Fixed:** the loss terms (summed over the
step's micro-batches), the stop request and the used-parameter flags now ride at the end of the last gradient
bucket, so a step makes one allreduce (the finite check runs after it, before clipping, hooks and the
optimizer: a non-finite loss still never reaches the weights, and a NaN on one rank stops both at that step —
test `cli.distributed`). Same weights bitwise (2-rank `params_sha256` equal before and after). Tiny model, each
rank pinned to its own core, 600 steps, three alternating rounds:

```sh
# r = 0, 1 (and the same with the previous build for "before")
MASTER_ADDR=127.0.0.1 MASTER_PORT=P WORLD_SIZE=2 RANK=r LOCAL_RANK=r LOCAL_WORLD_SIZE=2 taskset -c r \
  build/bin/mmdebias run examples/default.yaml --out DIR run.threads=1 train.steps=600 train.batch_size=32 \
  model.encoders.m0.hidden=[8] model.encoders.m1.hidden=[8] train.checkpoint_every=1000000 train.eval_every=1000000
```

gave 5.0-6.0 ms per step before and 2.7-3.2 ms after (one rank at batch 64: 0.32 ms); `strace -f -c` of rank 0
counts about 12 `writev` and 28 `futex` calls per step, against 36 and 93 before. Section 6's 512-wide model
went from 1.01x to 1.14x (efficiency 57%). What is left is one Gloo allreduce's round trip, about 2.5 ms on
this VM whatever the size up to a few MiB, paid after backward with nothing to overlap it: the known next
step is DDP's — start each bucket's allreduce from a gradient hook while backward continues, which helps when
a rank has a core for Gloo's threads beside its compute (clusters), not on one shared core per rank. On this
2-core machine two ranks cannot beat one process using both cores by much either way (section 6, "vs 1 rank x
2 threads").

On a loaded machine one process with two OpenMP threads is far slower than one thread, and that is
LibTorch's OpenMP, not the host: at load average 13.6 the hand-written loop itself gave 2250 samples/s with
one thread and 199 with two (the threads spin at every parallel region's barrier while the other is
descheduled), and the host 3077 and 167 on the same model:

```sh
OMP_NUM_THREADS=T taskset -c 0-1 build/bin/mmdebias-bench-baseline train --modalities 2 --dim 16 \
  --hidden 512,512 --out-dim 32 --classes 4 --batch 256 --samples 8192 --steps 60 --warmup 20 --threads T
```

### Method overheads (section 5)

No goal figure; each cost is the method's own arithmetic, already batched. MCR (S = 32, about 3x) passes every
permutation of the batch through fuse + head in **one** call (`num_samples` x passes x B rows: the
`permuted_rows` metric in `metrics.jsonl` gives the exact count per step), so its cost is the head's FLOPs on
S x M extra copies of the batch, not S dispatches; lower S or `shuffle: rsl` trades it away. CausalMM adds
exactly one model pass per evaluated batch (counted by the host, `eval.host`). ARL, A2D and NP-Mix add
per-modality logits (now computed only for the components that need them, which is also why joint training
got cheaper and their ratios rose a little this round) and a few elementwise terms; InfoMin adds its
confounder estimator's forward and backward. Their spreads at n = 5 overlap 1.0-1.4x.

### The GEMM-bound step against the mm peak (goal 3)

The host's step and the hand-written LibTorch loop reach the same fraction of the 2048x2048 `torch::mm`
peak (section 3: host / loop 1.00 on this model in section 1; their fractions overlap in every run), so what
separates the step from the peak is not the host: it is OpenBLAS on the step's narrower shapes (256 x 1024,
1024 x 256 and batch 256) and the elementwise work (bias, ReLU, Adam) left out of the FLOP count. The figure
moves with the machine: 75% in a quick run at load average 8-13, 69.5% (loop 68.9%) in the previous quiet full
run, 63% (loop 66%) in this one, where the `torch::mm` peak itself was 88.7 GFLOP/s against 96.3 then — the
same program on a slower slice of this shared host. Goal 3 is missed by what the hand-written loop misses too.

### Mixed precision on this CPU (section 9)

This CPU has AVX-512 BF16 and AMX. **GEMM-bound model: bf16 is 5.5x fp32 on Debian's 1.13 and 2.0x on the torch 2.x
wheel** (paired medians, 5 rounds). On 1.13 the fp32 GEMMs run in OpenBLAS and the bf16 ones in oneDNN 2.6's AMX
brgemm kernels (`brg:avx512_core_amx_bf16`, ONEDNN_VERBOSE); the profile puts `aten::mm` at 85.7 ms a step in fp32
and 5.3 ms in bf16. On 2.x the fp32 GEMMs run in MKL, already 5x OpenBLAS here, so bf16 gains less (`aten::mm` 20.7
-> 4.5 ms a step); its bf16 matmuls log no oneDNN primitive. What bf16 leaves unchanged — Adam, elementwise work,
the casts — bounds the whole step's gain below the GEMMs'.

**Small model: bf16 is slower, 0.55x (1.13) and 0.50x (2.x).** Its matmuls are 64 x 16 x 64 and smaller: at that
size a bf16 matmul costs more than an fp32 one — 8 `aten::mm` take 198 µs a step in bf16 against 82 µs in fp32
(1.13; 224 against 40 on 2.x), the fixed cost of oneDNN's primitive lookup and of reordering operands to bf16,
which a few thousand multiply-adds never repay — and autocast adds 24 casts a step (`aten::_to_copy` 74 calls
against 50, +50 µs). PyTorch's own `torch.autocast` on the same LibTorch slows the same model too: its profiled
step goes from 705 to 1100 µs (0.64x) on 1.13 and from 849 to 1372 µs (0.62x) on 2.x (`bench/precision_profile.py`);
the host's 0.50-0.55x adds the cast of the logits to fp32 and its loss hooks run under autocast. bf16 is for models
whose matmuls are large enough to be GEMM-bound; a dispatch-bound model should stay fp32.
"""
