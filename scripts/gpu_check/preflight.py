"""The preflight step: everything the later steps need from the machine (tools, compiler and glibc, PyTorch, CUDA,
GPUs, the deps folder), each missing piece named with what to do."""
import glob
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from .runner import Failure, out_of, rel, say

# Debian 12's libraries need at least these from the machine (their Depends: libc6 >= 2.34, libstdc++6 >= 12).
MIN_GLIBC = (2, 34)
MIN_GLIBCXX = "GLIBCXX_3.4.30"

PROBE = r"""
import json, os, sys, sysconfig
d = {"python": sys.executable, "python_version": sys.version.split()[0]}
try:
    import torch, torch.utils
except Exception as e:
    d["error"] = f"{type(e).__name__}: {e}"; print(json.dumps(d)); sys.exit(0)
d.update(torch=torch.__version__, cuda=torch.version.cuda, cmake_prefix=torch.utils.cmake_prefix_path,
         package=os.path.dirname(os.path.realpath(torch.__file__)),
         cxx11_abi=bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)),
         has_compile=hasattr(torch, "compile"),
         python_h=os.path.isfile(os.path.join(sysconfig.get_paths().get("include") or "", "Python.h")))
try:
    d["cuda_available"] = torch.cuda.is_available()
    d["device_count"] = torch.cuda.device_count() if d["cuda_available"] else 0
    d["devices"] = [torch.cuda.get_device_name(i) for i in range(d["device_count"])]
    d["nccl"] = torch.distributed.is_available() and torch.distributed.is_nccl_available()
except Exception as e:
    d["cuda_error"] = f"{type(e).__name__}: {e}"
print(json.dumps(d))
"""


def version_tuple(text):
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(x or 0) for x in m.groups()) if m else None


def find_nvcc():
    """The CUDA toolkit's nvcc: $CUDACXX, $CUDA_HOME, $CUDA_PATH, PATH, /usr/local/cuda; None when there is none."""
    cands = [os.environ.get("CUDACXX")] + [os.path.join(os.environ[v], "bin", "nvcc") for v in ("CUDA_HOME", "CUDA_PATH") if os.environ.get(v)]
    cands += [shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return os.path.realpath(c) if os.path.basename(c) == "nvcc" else c
    return None


def wheel_cuda(package):
    """The CUDA runtime a pip wheel brings in site-packages/nvidia/*: (libcudart path, include dir), or Nones."""
    site = Path(package).parent
    libs = sorted(glob.glob(str(site / "nvidia" / "*" / "lib" / "libcudart.so*")))
    incs = sorted(glob.glob(str(site / "nvidia" / "*" / "include" / "cuda_runtime_api.h")))
    return (libs[0] if libs else None), (os.path.dirname(incs[0]) if incs else None)


def has_glibcxx(compiler, symbol):
    lib = out_of([compiler, "-print-file-name=libstdc++.so.6"])
    try:
        return symbol.encode() in Path(os.path.realpath(lib)).read_bytes(), os.path.realpath(lib)
    except OSError:
        return None, lib


def preflight(a, clock, info):
    """Everything the later steps need, each missing piece named with what to do. In a dry run, a missing GPU is
    reported and the rest goes on."""
    problems, notes = [], []
    py = subprocess.run([a.python, "-c", PROBE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    try:
        t = json.loads(py.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure(f"{a.python} could not be asked about torch: {py.stderr[-1500:]}")
    info["torch"] = t
    if "error" in t:
        raise Failure(f"{a.python} cannot import torch ({t['error']}): pass --python with the Python that has PyTorch 2.x")
    major = (version_tuple(t["torch"]) or (0,))[0]
    if major < 2:
        problems.append(f"PyTorch {t['torch']} at {t['package']}: gpu-check builds against PyTorch 2.x (pass --python)")
    if not t.get("cxx11_abi"):
        problems.append(f"PyTorch {t['torch']} is built with the old C++ ABI (_GLIBCXX_USE_CXX11_ABI=0, pip wheels before "
                        f"2.7): Debian's libraries in the deps folder use the C++11 ABI and cannot link with it; use torch >= 2.7")
    if not os.path.isdir(t["cmake_prefix"]):
        problems.append(f"torch.utils.cmake_prefix_path {t['cmake_prefix']} does not exist: this PyTorch has no LibTorch CMake package")
    if not t.get("python_h"):
        notes.append(f"no Python.h for {a.python}: torch.compile on the GPU (Triton compiles a small C launcher against "
                     f"it) will likely fail; its column then says why (install the python3-dev of this Python)")
    # Tools.
    for tool, why in (("cmake", "CMake >= 3.18"), (a.cxx, "a C++20 compiler (GCC >= 10) for LibTorch 2.x")):
        if not shutil.which(tool):
            problems.append(f"{tool} is missing: install {why}")
    cm = version_tuple(out_of(["cmake", "--version"])) if shutil.which("cmake") else None
    if cm and cm < (3, 18):
        problems.append(f"cmake {'.'.join(map(str, cm))} is too old: 3.18 or newer")
    info["cmake"] = ".".join(map(str, cm)) if cm else None
    info["generator"] = "Ninja" if shutil.which("ninja") else "Unix Makefiles"
    if info["generator"] != "Ninja":
        notes.append("ninja is missing: building with make (slower to start; install ninja for the planned time)")
    if shutil.which(a.cxx):
        info["compiler"] = out_of([a.cxx, "--version"]).splitlines()[0] if out_of([a.cxx, "--version"]) else a.cxx
        ok, lib = has_glibcxx(a.cxx, MIN_GLIBCXX)
        if ok is False:
            problems.append(f"{lib} lacks {MIN_GLIBCXX}: Debian 12's libraries need libstdc++ from GCC 12 or newer")
    glibc = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else ""
    info["glibc"] = glibc
    gv = version_tuple(glibc)
    if gv and gv[:2] < MIN_GLIBC:
        problems.append(f"{glibc}: Debian 12's libraries need glibc {MIN_GLIBC[0]}.{MIN_GLIBC[1]} or newer")
    info["os"] = next((l.split("=", 1)[1].strip('"') for l in Path("/etc/os-release").read_text().splitlines()
                       if l.startswith("PRETTY_NAME=")), platform.platform()) if Path("/etc/os-release").exists() else platform.platform()
    info["cpu"] = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                        if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    info["cores"] = os.cpu_count()
    # CUDA toolkit or the wheel's runtime (scripts/gpu-check.cmake).
    nvcc = find_nvcc()
    info["nvcc"] = nvcc
    cudart, cuda_inc = wheel_cuda(t["package"])
    info["wheel_cudart"], info["wheel_cuda_include"] = cudart, cuda_inc
    if not t.get("cuda"):
        info["cuda_mode"] = "none"
        (notes if a.dry_run else problems).append(f"PyTorch {t['torch']} is a CPU-only build (torch.version.cuda is None)")
    elif a.cuda == "toolkit" and not nvcc:
        problems.append("--cuda toolkit: no nvcc found ($CUDACXX, $CUDA_HOME/bin, PATH, /usr/local/cuda/bin)")
    else:
        info["cuda_mode"] = "toolkit" if (a.cuda == "toolkit" or (a.cuda == "auto" and nvcc)) else "shim"
    # GPUs.
    smi = shutil.which("nvidia-smi")
    gpus = []
    if smi:
        for line in out_of([smi, "--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader"]).splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 4 and parts[0].isdigit():
                gpus.append({"index": int(parts[0]), "name": parts[1], "driver": parts[2], "memory": parts[3]})
    info["gpus"] = gpus
    gpu_problems = []
    if not smi:
        gpu_problems.append("nvidia-smi is missing (no NVIDIA driver on this machine)")
    elif not gpus:
        gpu_problems.append("nvidia-smi lists no GPU")
    if t.get("cuda") and not t.get("cuda_available"):
        gpu_problems.append(f"torch.cuda.is_available() is False ({t.get('cuda_error', 'no usable GPU or driver too old for CUDA ' + str(t.get('cuda')))})")
    if a.dry_run:
        notes += [f"{p} (dry run: the GPU steps only print their commands)" for p in gpu_problems]
    else:
        problems += gpu_problems
    # Deps folder.
    deps = Path(a.deps)
    if not (deps / "FILES").is_file():
        problems.append(f"the deps folder {deps} is missing or incomplete (no FILES): run scripts/gpu-deps {rel(deps)} on a Debian 12 "
                        f"machine with apt and copy the folder along with the source tree (it is ignored by git, so carry it explicitly)")
    for n in notes:
        say(clock, f"  note: {n}")
    if problems:
        raise Failure("cannot build or run here:\n  - " + "\n  - ".join(problems))
    say(clock, f"  PyTorch {t['torch']} (CUDA {t.get('cuda')}) at {t['package']}; {len(gpus)} GPU(s) "
               f"{', '.join(g['name'] for g in gpus) or '-'}; CUDA for the build: {info['cuda_mode']}"
               f"{' (' + nvcc + ')' if info['cuda_mode'] == 'toolkit' else ''}; {info.get('compiler')}; cmake {info['cmake']}; {info['generator']}")
    return {"status": "passed", "detail": "; ".join(notes) or "all present"}
