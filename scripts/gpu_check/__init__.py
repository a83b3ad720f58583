"""scripts/gpu-check's work, one idea a module (scripts/gpu-check runs this folder with the Python that has PyTorch 2.x).

main        the command line and the step loop: each step within its share of the budget, then the report
plan        the steps, their planned seconds, and the clock that gives each its share
runner      commands run from the source tree with a timeout, their output logged (or only printed in a dry run)
preflight   the machine: tools, compiler and glibc, PyTorch, CUDA, GPUs, the deps folder
prefix      the .deb files unpacked into a private prefix, the configure against it, the build
gpu_watch   nvidia-smi polled while a command runs: evidence that it used the GPU
steps       the GPU checks: demo, resume, two_gpus, data_wait, bench
report      the GPU section of docs/benchmarks.md
"""
