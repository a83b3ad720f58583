"""scripts/gpu-check's work (started by scripts/gpu-check with the Python that has PyTorch 2.x; see its usage text).

On a machine with NVIDIA GPU(s), PyTorch 2.x and no network: unpacks the .deb files that scripts/gpu-deps gathered
into a private prefix, builds mmdebias against this machine's PyTorch (torch.utils.cmake_prefix_path) with all its
cores, runs the GPU checks in order, each within its share of a 10-minute budget, and writes the figures as the GPU
section of docs/benchmarks.md. --dry-run (CPU-only machines, CI) checks the script itself: the tools, the deps
folder, the unpacking, and the configure step against the private prefix (every package must come from it), prints
every later step's command, and renders the section into a copy of the page.
"""
import argparse
import ctypes
import datetime
import glob
import hashlib
import io
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SRC / "bench"))
import render  # noqa: E402  (the page's GPU markers; bench/run keeps the block between them)

ARCH = "usr/lib/x86_64-linux-gnu"
# The package configs CMake must find in the private prefix: variable -> (group, path inside the group's root).
CONFIGS = {
    "Boost_DIR": ("boost", f"{ARCH}/cmake/Boost-1.74.0"),
    "TBB_DIR": ("tbb", f"{ARCH}/cmake/TBB"),
    "spdlog_DIR": ("spdlog", f"{ARCH}/cmake/spdlog"),
    "fmt_DIR": ("fmt", f"{ARCH}/cmake/fmt"),
    "yaml-cpp_DIR": ("yaml-cpp", f"{ARCH}/cmake/yaml-cpp"),
    "nlohmann_json_DIR": ("nlohmann-json", "usr/share/cmake/nlohmann_json"),
}
# What the configured build must have found inside the prefix (CMakeCache.txt entries).
FOUND_IN_PREFIX = ["Boost_DIR", "boost_program_options_DIR", "boost_headers_DIR", "TBB_DIR", "spdlog_DIR", "fmt_DIR",
                   "yaml-cpp_DIR", "nlohmann_json_DIR", "OPENSSL_CRYPTO_LIBRARY", "OPENSSL_INCLUDE_DIR",
                   "ZLIB_LIBRARY_RELEASE", "ZLIB_INCLUDE_DIR"]
# The shared libraries of the prefix the host must load from it (ldd), after a build.
PREFIX_SONAMES = ["libyaml-cpp.so", "libtbb.so", "libboost_program_options.so", "libspdlog.so", "libfmt.so", "libcrypto.so"]
# Debian 12's libraries need at least these from the machine (their Depends: libc6 >= 2.34, libstdc++6 >= 12).
MIN_GLIBC = (2, 34)
MIN_GLIBCXX = "GLIBCXX_3.4.30"

# Each step's planned seconds on a 16-core GPU machine (sum 600). A step may use what earlier steps left unused;
# the later steps' planned time stays reserved. The build: a clean -j2 build here (Xeon VM, no ccache) took 860 CPU
# seconds (141 jobs); its .ninja_log durations, scaled to those CPU seconds and scheduled on 16 workers with the
# build's dependencies (`ninja -t graph`), finish in 69 s, so 120 s leaves room for slower cores.
PLAN = [("preflight", 20), ("unpack", 10), ("configure", 20), ("build", 120), ("demo", 35), ("resume", 60),
        ("two_gpus", 60), ("data_wait", 35), ("bench", 235), ("report", 5)]
TOTAL = sum(s for _, s in PLAN)
TITLES = {"preflight": "tools, GPU and PyTorch", "unpack": "unpack the .deb files", "configure": "configure",
          "build": "build", "demo": "demo on cuda", "resume": "train, SIGKILL, resume, compare (1 GPU)",
          "two_gpus": "2 ranks on 2 GPUs == 1 rank", "data_wait": "data wait on the GPU",
          "bench": "host vs PyTorch eager and torch.compile", "report": "write the GPU section"}


class Failure(RuntimeError):
    """A step that cannot go on: the message says what is missing and what to do."""


class Clock:
    def __init__(self, budget):
        self.t0 = time.monotonic()
        self.budget = budget

    def elapsed(self):
        return time.monotonic() - self.t0

    def timeout_for(self, step):
        """Seconds `step` may take: the budget left minus what the later steps have planned (at least its own plan)."""
        names = [n for n, _ in PLAN]
        later = sum(s for n, s in PLAN[names.index(step) + 1:])
        own = dict(PLAN)[step]
        return max(own, self.budget - self.elapsed() - later)


def say(clock, msg):
    e = clock.elapsed()
    print(f"gpu-check [{int(e // 60):02d}:{int(e % 60):02d}] {msg}", flush=True)


def q(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def rel(path):
    path = os.path.abspath(str(path))
    return os.path.relpath(path, SRC) if os.path.commonpath([path, str(SRC)]) == str(SRC) else path


def out_of(cmd, **kw):
    try:
        return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=60, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class Runner:
    """Runs (or, in a dry run, prints) commands with a timeout, their output in a log file."""

    def __init__(self, clock, logs, dry):
        self.clock, self.logs, self.dry = clock, Path(logs), dry
        self.logs.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def log_path(self, name):
        self.count += 1
        return self.logs / f"{self.count:02d}-{name}.log"

    def __call__(self, cmd, name, timeout, env=None, ok=(0,), show=True, really=None):
        """Returns (exit code, output, seconds). Raises Failure on a code outside `ok` or a timeout. really=True runs
        even in a dry run (the steps a dry run checks)."""
        cmd = [str(c) for c in cmd]
        if show:
            say(self.clock, f"  $ {q(cmd)}")
        if self.dry and not really:
            return 0, "", 0.0
        log = self.log_path(name)
        t0 = time.monotonic()
        with open(log, "w") as f:
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=SRC, start_new_session=True)
            try:
                code = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                raise Failure(f"timed out after {timeout:.0f} s: {q(cmd)} (log {log})")
        text = log.read_text(errors="replace")
        if code not in ok:
            raise Failure(f"exit {code}: {q(cmd)}\n{text[-2500:]}(log {log})")
        return code, text, time.monotonic() - t0


class GpuWatch:
    """Polls nvidia-smi's compute processes while a command runs: which GPUs held a process of ours (new since the
    watch started) and their peak memory. Evidence that the run used the GPU; nvidia-smi lists no processes inside
    some containers, so an empty answer is reported, not failed."""

    def __init__(self, enabled):
        self.enabled = enabled and shutil.which("nvidia-smi") is not None
        self.seen = {}
        self.stop = threading.Event()
        self.before = set(self._apps()) if self.enabled else set()
        self.uuid_index = {}
        if self.enabled:
            for line in out_of(["nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader"]).splitlines():
                parts = [x.strip() for x in line.split(",")]
                if len(parts) == 2:
                    self.uuid_index[parts[1]] = parts[0]

    def _apps(self):
        out = {}
        for line in out_of(["nvidia-smi", "--query-compute-apps=pid,gpu_uuid,used_memory", "--format=csv,noheader,nounits"]).splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 3 and parts[0].isdigit():
                out[(parts[0], parts[1])] = float(parts[2]) if parts[2].replace(".", "").isdigit() else 0.0
        return out

    def __enter__(self):
        if self.enabled:
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()
        return self

    def _poll(self):
        while not self.stop.is_set():
            for key, mem in self._apps().items():
                if key not in self.before:
                    self.seen[key] = max(mem, self.seen.get(key, 0.0))
            self.stop.wait(0.2)

    def __exit__(self, *exc):
        self.stop.set()
        if self.enabled:
            self.thread.join()

    def summary(self):
        if not self.enabled:
            return "not watched"
        if not self.seen:
            return "nvidia-smi listed no new process (it lists none inside some containers, or the run was shorter than its 0.2 s poll)"
        per_gpu = {}
        for (pid, uuid), mem in self.seen.items():
            g = self.uuid_index.get(uuid, uuid[:12])
            per_gpu.setdefault(g, []).append(mem)
        return "; ".join(f"GPU {g}: {len(m)} process(es), peak {max(m):.0f} MiB" for g, m in sorted(per_gpu.items()))

    def gpus(self):
        return sorted({self.uuid_index.get(u, u) for (_, u) in self.seen})


# ---------------------------------------------------------------------------------------------------------- preflight

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


# ------------------------------------------------------------------------------------------------------------- unpack

def ar_members(path):
    """The members of an ar archive (a .deb): {name: bytes}."""
    data = Path(path).read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise Failure(f"{path} is not a .deb (ar) archive")
    out, pos = {}, 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        out[name] = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
    return out


def extract_deb(deb, dest):
    """Unpacks a .deb's files into dest: dpkg-deb where there is one, else its ar members read here (data.tar.xz,
    .gz or uncompressed; .zst needs dpkg-deb or zstd)."""
    if shutil.which("dpkg-deb"):
        r = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            raise Failure(f"dpkg-deb -x {deb} failed: {r.stdout[-800:]}")
        return "dpkg-deb"
    members = ar_members(deb)
    name = next((n for n in members if n.startswith("data.tar")), None)
    if name is None:
        raise Failure(f"{deb} has no data.tar member")
    blob = members[name]
    if name.endswith(".zst"):
        if not shutil.which("zstd"):
            raise Failure(f"{deb}: its data is zstd-compressed and neither dpkg-deb nor zstd is here")
        blob = subprocess.run(["zstd", "-dc"], input=blob, stdout=subprocess.PIPE, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(dest, filter="tar")  # keeps the packages' absolute symlinks (fixed up below)
        else:
            tar.extractall(dest)
    return "python (ar + tarfile)"


def unpack(a, clock, info, prefix):
    deps = Path(a.deps)
    sums = {}
    if (deps / "SHA256SUMS").is_file():
        for line in (deps / "SHA256SUMS").read_text().splitlines():
            h, _, f = line.partition("  ")
            sums[f.strip()] = h
    files = dict(l.split() for l in (deps / "FILES").read_text().splitlines() if l.strip())
    groups = [l.split() for l in (deps / "GROUPS").read_text().splitlines() if l.strip()]
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    how = None
    for group, package in groups:
        f = deps / files[package]
        if not f.is_file():
            raise Failure(f"{f} is missing from the deps folder: run scripts/gpu-deps again")
        if sums.get(f.name) and hashlib.sha256(f.read_bytes()).hexdigest() != sums[f.name]:
            raise Failure(f"{f} does not match SHA256SUMS (damaged in transit?): run scripts/gpu-deps again")
        how = extract_deb(f, prefix / group)
    # Absolute symlinks of the packages (zlib1g-dev's libz.so -> /lib/...) point into their root here.
    fixed = 0
    for root, dirs, names in os.walk(prefix):
        for n in dirs + names:
            p = Path(root) / n
            if p.is_symlink() and os.readlink(p).startswith("/"):
                group_root = prefix / p.relative_to(prefix).parts[0]
                target = group_root / os.readlink(p).lstrip("/")
                if not target.exists():  # usr-merged paths: /lib/... shipped as usr/lib/... or the reverse
                    alt = os.readlink(p).lstrip("/")
                    alt = alt[4:] if alt.startswith("usr/") else "usr/" + alt
                    target = group_root / alt
                p.unlink()
                p.symlink_to(os.path.relpath(target, p.parent))
                fixed += 1
    dangling = [str(p) for p in prefix.rglob("*") if p.is_symlink() and not p.exists()]
    if dangling:
        raise Failure("dangling links in the unpacked prefix: " + ", ".join(dangling[:5]))
    size = sum(f.stat().st_size for f in deps.iterdir() if f.is_file())
    info["deps"] = {"folder": rel(deps), "packages": len(groups), "mib": round(size / 1048576, 1),
                    "groups": sorted({g for g, _ in groups}), "unpacked_with": how}
    return {"status": "passed", "detail": f"{len(groups)} packages ({size / 1048576:.1f} MiB) into {rel(prefix)} with {how}; "
                                          f"{fixed} absolute link(s) pointed into the prefix"}


# ---------------------------------------------------------------------------------------------------------- configure

def cmake_args(a, info, prefix, build, mode):
    groups = info["deps"]["groups"]
    roots = [str(prefix / g / "usr") for g in groups]
    libdirs = [str(prefix / g / ARCH) for g in groups if (prefix / g / ARCH).is_dir()]
    t = info["torch"]
    args = ["cmake", "-S", SRC, "-B", build, "-G", info["generator"], "-DCMAKE_BUILD_TYPE=Release",
            "-DMMDEBIAS_BUILD_TESTS=OFF", "-DMMDEBIAS_BUILD_BENCH=ON", f"-DCMAKE_CXX_COMPILER={shutil.which(a.cxx) or a.cxx}",
            f"-DCMAKE_PREFIX_PATH={';'.join(roots + [t['cmake_prefix']])}", f"-DCMAKE_LIBRARY_PATH={';'.join(libdirs)}",
            f"-DOPENSSL_ROOT_DIR={prefix / 'openssl' / 'usr'}", f"-DZLIB_ROOT={prefix / 'zlib' / 'usr'}",
            # The binaries find the prefix's libraries through DT_RPATH, which (unlike RUNPATH) also serves their
            # libraries' own dependencies (libspdlog -> libfmt): no LD_LIBRARY_PATH, which would reach Python too.
            f"-DCMAKE_BUILD_RPATH={';'.join(libdirs)}", "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags",
            "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,--disable-new-dtags"]
    args += [f"-D{var}={prefix / g / path}" for var, (g, path) in CONFIGS.items()]
    if mode == "shim":
        args += [f"-DCMAKE_PROJECT_INCLUDE={SRC / 'scripts' / 'gpu-check.cmake'}", f"-DMMDEBIAS_GPU_CUDA_VERSION={t['cuda']}",
                 f"-DMMDEBIAS_GPU_CUDART={info.get('wheel_cudart') or ''}", f"-DMMDEBIAS_GPU_CUDA_INCLUDE={info.get('wheel_cuda_include') or ''}"]
    elif mode == "toolkit":
        nvcc = info["nvcc"]
        args += [f"-DCMAKE_CUDA_COMPILER={nvcc}", f"-DCUDA_TOOLKIT_ROOT_DIR={Path(nvcc).parent.parent}"]
    return args


def cache_entries(build):
    out = {}
    p = Path(build) / "CMakeCache.txt"
    if p.is_file():
        for line in p.read_text(errors="replace").splitlines():
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_.+-]*):[A-Z]+=(.*)$", line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def configure(a, clock, info, prefix, build, runner):
    mode = info["cuda_mode"]
    tried = []
    modes = [mode, "shim"] if mode == "toolkit" and a.cuda == "auto" else [mode]
    for i, m in enumerate(modes):
        shutil.rmtree(build / "CMakeFiles", ignore_errors=True)
        (build / "CMakeCache.txt").unlink(missing_ok=True)
        try:
            runner(cmake_args(a, info, prefix, build, m), f"configure-{m}", clock.timeout_for("configure"), really=True)
            info["cuda_mode"] = m
            break
        except Failure as e:
            tried.append(f"{m}: {str(e)[-1200:]}")
            if i + 1 < len(modes) and "timed out" not in str(e):
                say(clock, "  configure with the CUDA toolkit failed; trying again with the wheel's runtime (scripts/gpu-check.cmake)")
                continue
            raise Failure("configure failed:\n" + "\n".join(tried))
    cache = cache_entries(build)
    outside = [f"{k}={cache.get(k)}" for k in FOUND_IN_PREFIX if not cache.get(k, "").startswith(str(prefix))]
    if outside:
        raise Failure("configure took packages from outside the private prefix " + str(prefix) + ": " + ", ".join(outside))
    torch_dir = cache.get("Torch_DIR", "")
    if not torch_dir.startswith(info["torch"]["cmake_prefix"]):
        raise Failure(f"configure found Torch at {torch_dir}, not in {info['torch']['cmake_prefix']}")
    info["cuda_version_in_build"] = cache.get("MMDEBIAS_GPU_CUDA_VERSION") or cache.get("CUDA_VERSION")
    return {"status": "passed", "detail": f"every package from the private prefix ({len(FOUND_IN_PREFIX)} checked in CMakeCache.txt), "
                                          f"Torch from {rel(torch_dir)}; CUDA for the build: {info['cuda_mode']}"
                                          + (f" (after: {tried[0][:200]})" if tried else "")}


def build_step(a, clock, info, build, runner, dry_build=False):
    jobs = a.jobs or os.cpu_count() or 1
    t0 = time.monotonic()
    runner(["cmake", "--build", build, "-j", jobs], "build", clock.timeout_for("build"), really=dry_build)
    seconds = time.monotonic() - t0
    info["build_seconds"], info["build_jobs"] = seconds, jobs
    host = build / "bin" / "mmdebias"
    if a.dry_run and not dry_build:
        return {"status": "dry run", "detail": f"would build with -j{jobs}"}
    # The host must load the prefix's libraries and this PyTorch's LibTorch.
    ldd = out_of(["ldd", host])
    wrong = []
    for so in PREFIX_SONAMES:
        line = next((l for l in ldd.splitlines() if l.strip().startswith(so)), None)
        if line is None or str(build / "deps-prefix") not in line:
            wrong.append(f"{so}: {line.strip() if line else 'not linked'}")
    torch_line = next((l for l in ldd.splitlines() if "libtorch_cpu.so" in l), "")
    if info["torch"]["package"] not in os.path.realpath(torch_line.split("=>")[-1].split("(")[0].strip() or "/"):
        wrong.append(f"libtorch_cpu.so: {torch_line.strip()}")
    if wrong:
        raise Failure("the built host loads libraries from the wrong place:\n  " + "\n  ".join(wrong))
    return {"status": "passed", "detail": f"{seconds:.0f} s with -j{jobs}; the host loads the prefix's libraries and this PyTorch's LibTorch (ldd)"}


# ------------------------------------------------------------------------------------------------------------- checks

def summary_of(d):
    return json.loads((Path(d) / "summary.json").read_text())


def device_overrides(extra=()):
    return ["run.device=cuda", "run.deterministic=true"] + list(extra)


def demo(a, clock, info, build, work, runner):
    host = build / "bin" / "mmdebias"
    d = work / "demo"
    shutil.rmtree(d, ignore_errors=True)
    with GpuWatch(not a.dry_run) as w:
        _, _, secs = runner([host, "demo", "--out", d, "run.device=cuda"], "demo", clock.timeout_for("demo"))
    if a.dry_run:
        return {"status": "dry run"}
    s = summary_of(d)
    if not str(s.get("device", "")).startswith("cuda"):
        raise Failure(f"the demo ran on {s.get('device')!r}, not cuda ({d}/summary.json)")
    acc = (s.get("eval", {}).get("classification") or {}).get("accuracy")
    return {"status": "passed", "seconds_run": secs,
            "detail": f"device {s['device']}, {s['steps']} steps in {secs:.1f} s (process), {s['train']['samples_per_s']:.0f} samples/s"
                      + (f", test accuracy {acc:.3f}" if isinstance(acc, (int, float)) else "") + f"; {w.summary()}"}


def resume(a, clock, info, build, work, runner):
    """tests/cli/run_resume.sh's check on the GPU: an uninterrupted run, the same run SIGKILLed after a checkpoint and
    resumed, equal params_sha256 (run.deterministic: cuDNN/cuBLAS deterministic, no TF32)."""
    host = build / "bin" / "mmdebias"
    manifest = SRC / "tests" / "runs" / "tiny.yaml"
    over = device_overrides(["train.epochs=64"])  # 2048 steps: long enough to be killed in the middle on a GPU
    full, killed = work / "resume-full", work / "resume-killed"
    for d in (full, killed):
        shutil.rmtree(d, ignore_errors=True)
    deadline = time.monotonic() + clock.timeout_for("resume")
    runner([host, "run", manifest, "--out", full] + over, "resume-full", max(5, deadline - time.monotonic()))
    target = random.randint(300, 1500)
    say(clock, f"  $ {q([host, 'run', manifest, '--out', killed] + over)} &  # SIGKILL at step >= {target}, after a checkpoint")
    if a.dry_run:
        runner([host, "run", "--resume", killed], "resume", 1)
        return {"status": "dry run"}
    log = runner.log_path("resume-killed")
    with open(log, "w") as f:
        p = subprocess.Popen([str(c) for c in [host, "run", manifest, "--out", killed] + over], stdout=f, stderr=subprocess.STDOUT, cwd=SRC)
    step = 0
    while p.poll() is None and time.monotonic() < deadline:
        try:
            last = (killed / "metrics.jsonl").read_text().strip().splitlines()[-1]
            step = json.loads(last).get("step", 0)
        except (OSError, IndexError, ValueError):
            pass
        if step >= target and (killed / "checkpoints" / "latest").exists():
            break
        time.sleep(0.005)
    p.kill()
    p.wait()
    if (killed / "summary.json").exists():
        raise Failure(f"the run finished (step {step}) before it was killed at step {target}: the kill tested nothing")
    latest = (killed / "checkpoints" / "latest").read_text().strip() if (killed / "checkpoints" / "latest").exists() else None
    runner([host, "run", "--resume", killed], "resume", max(5, deadline - time.monotonic()))
    a_sha, b_sha = summary_of(full)["params_sha256"], summary_of(killed)["params_sha256"]
    if a_sha != b_sha:
        raise Failure(f"killed at step ~{step} ({latest}) and resumed: params_sha256 {b_sha[:16]}… differs from the uninterrupted run's {a_sha[:16]}…")
    return {"status": "passed", "detail": f"killed at step ~{step} (latest checkpoint {latest}), resumed: params_sha256 {a_sha[:16]}… "
                                          f"equal to the uninterrupted run's ({summary_of(full)['device']})"}


COMPARE = r"""
import sys, torch
def params(d):
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip(), map_location="cpu")
    return dict(m.model.named_parameters())
a, b = params(sys.argv[1]), params(sys.argv[2])
assert a.keys() == b.keys() and len(a) > 0, (sorted(a), sorted(b))
worst = max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)).item() for k in a)
print(f"{worst:.3e} {len(a)}")
"""


def two_gpus(a, clock, info, build, work, runner):
    """tests/cli/distributed.sh's check on GPUs: torchrun, 2 ranks x 32 on GPUs 0 and 1 (NCCL) against 1 rank x 64
    on one GPU, every parameter within 1e-5 (relative) after 20 steps."""
    n = len(info.get("gpus") or [])
    if n < 2 and not a.dry_run:
        return {"status": "skipped", "detail": f"{n} GPU on this machine: needs 2"}
    host = build / "bin" / "mmdebias"
    manifest = SRC / "tests" / "runs" / "dist.yaml"
    two, one = work / "dist-two", work / "dist-one"
    for d in (two, one, work / "torchrun-logs"):
        shutil.rmtree(d, ignore_errors=True)
    deadline = time.monotonic() + clock.timeout_for("two_gpus")
    port = str(random.randint(20000, 40000))
    with GpuWatch(not a.dry_run) as w:
        runner([a.python, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port, "--no_python",
                "--redirects", "1", "--tee", "1", "--log_dir", work / "torchrun-logs", host, "run", manifest, "--out", two]
               + device_overrides(["run.backend=nccl"]), "two-ranks", max(5, deadline - time.monotonic()))
    runner([host, "run", manifest, "--out", one, "train.batch_size=64"] + device_overrides(), "one-rank", max(5, deadline - time.monotonic()))
    say(clock, f"  $ {q([a.python, '-c', '<compare the latest checkpoints>', two, one])}")
    _, text, _ = runner([a.python, "-c", COMPARE, two, one], "compare", max(5, deadline - time.monotonic()), show=False)
    if a.dry_run:
        return {"status": "dry run"}
    worst, count = text.split()[-2:]
    gpus = w.gpus()
    if float(worst) >= 1e-5:
        raise Failure(f"2 ranks x 32 and 1 rank x 64 differ by {worst} (relative) in some parameter, beyond 1e-5")
    return {"status": "passed", "detail": f"largest relative difference over {count} parameters {worst} (< 1e-5); "
                                          f"devices {summary_of(two)['device']} (2 ranks), {summary_of(one)['device']} (1 rank); {w.summary()}"
                                          + ("" if len(gpus) >= 2 or not gpus else " (fewer GPUs seen than ranks)")}


DATA_MODELS = {"small (dispatch-bound)": ("small", "bench/models/small.yaml"), "GEMM-bound": ("gemm", "bench/models/gemm.yaml")}


def data_wait(a, clock, info, build, work, runner):
    """train.data_wait_fraction of summary.json with the default loader (run.prefetch 4, one loader thread) while the
    step runs on the GPU: the share of training time the GPU step waited for the next batch."""
    sys.path.insert(0, str(SRC / "bench"))
    import sections
    host = build / "bin" / "mmdebias"
    deadline = time.monotonic() + clock.timeout_for("data_wait")
    rounds, results = 3, {k: [] for k in DATA_MODELS}
    common = ["train.steps=300", "train.log_every=10", "train.checkpoint_every=1000000", "train.eval_every=1000000",
              "eval.scorers=[]", "run.prefetch=4", "run.device=cuda"]
    cmds = {}
    for r in range(rounds):
        for label, (key, manifest) in DATA_MODELS.items():
            sizes = sections.SMALL if key == "small" else sections.GEMM
            over = common + sections.size_overrides(sizes)
            d = work / f"data-{key}-{r}"
            shutil.rmtree(d, ignore_errors=True)
            cmd = [host, "run", SRC / manifest, "--out", d] + over
            cmds[label] = f"{rel(host)} run {manifest} --out DIR " + " ".join(shlex.quote(o) for o in over)
            if r and a.dry_run:
                continue
            runner(cmd, f"data-{key}", max(5, deadline - time.monotonic()), show=(r == 0))
            if not a.dry_run:
                s = summary_of(d)
                results[label].append((s["train"]["data_wait_fraction"], s["train"]["samples_per_s"]))
    if a.dry_run:
        return {"status": "dry run"}
    from harness import spread
    figures = {k: {"wait": spread([x for x, _ in v]), "samples_per_s": spread([y for _, y in v]), "command": cmds[k]}
               for k, v in results.items()}
    worst = max(f["wait"]["median"] for f in figures.values())
    return {"status": "passed", "figures": figures,
            "detail": ", ".join(f"{k}: {f['wait']['median'] * 100:.2f}%" for k, f in figures.items()) + " of training time waiting for data (median of 3)"
                      + (" — above the CPU goal of 2%" if worst >= 0.02 else "")}


def bench(a, clock, info, build, work, runner):
    """bench/run's sections 1-3 on the GPU: the host, the hand-written LibTorch loop, PyTorch eager and torch.compile,
    alternating rounds, on the small and the GEMM-bound model; the GEMM-bound step against torch::mm's peak."""
    bw = work / "bench"
    cmd = [a.python, SRC / "bench" / "run", "--build", build, "--device", "cuda", "--only", "1-3", "--quick",
           "--rounds", a.bench_rounds, "--threads", a.bench_threads, "--work", bw, "--out", bw / "bench.md", "--python", a.python]
    _, _, secs = runner(cmd, "bench", clock.timeout_for("bench"), ok=(0, 1))
    if a.dry_run:
        return {"status": "dry run", "command": q(cmd)}
    r = json.loads((bw / "results.json").read_text())
    info["bench_command"] = "bench/run " + " ".join(q([c]) for c in cmd[2:])
    part = r.get("1-3", {})
    if "error" in part:
        raise Failure(f"bench/run section 1-3 failed: {part['error'][-1500:]}")
    return {"status": "passed", "results": r, "detail": f"{r.get('wall_seconds', secs):.0f} s, {a.bench_rounds} alternating rounds"}


# ------------------------------------------------------------------------------------------------------------- report

def _m(s, digits=0, scale=1.0, unit=""):
    if not s:
        return "-"
    return f"{s['median'] * scale:.{digits}f}{unit} ({s['min'] * scale:.{digits}f}..{s['max'] * scale:.{digits}f}, n = {s['n']})"


def bench_tables(res):
    part = res.get("1-3") or {}
    m = res.get("machine", {})
    rows = []
    for label, key in (("small (dispatch-bound)", "small"), ("GEMM-bound", "gemm")):
        x = part.get(key)
        if not x:
            continue
        c = x.get("compiled") or {}
        comp = c.get("rates", {}).get("wall") if "rates" in c else None
        cold = (c.get("compile_seconds") or {}).get("cold")
        warm = (c.get("compile_seconds") or {}).get("warm")
        rows.append(f"| {label} | {_m(x['host']['wall'])} | {_m(x['baseline']['wall'])} | {_m(x['python']['wall'])} | "
                    f"{_m(comp) if comp else c.get('unavailable', '-')} | {_m(x['host_vs_python']['wall'], 2, unit='x')} | "
                    f"{_m(c['host_vs_compiled']['wall'], 2, unit='x') if comp else '-'} | "
                    f"{_m(c['compiled_vs_eager']['wall'], 2, unit='x') if comp else '-'} | {_m(x['host_vs_baseline']['wall'], 3)} | "
                    f"{f'{cold:.1f} s' if cold else '-'} / {_m(warm, 1, unit=' s') if warm else '-'} |")
    out = ["| model | host samples/s | LibTorch loop | PyTorch eager | torch.compile | host / eager | host / compile | compile / eager | host / loop | compile time, cold / cached |",
           "|---|---|---|---|---|---|---|---|---|---|"] + rows
    g = part.get("gemm")
    if g and g.get("mm"):
        out += ["", f"The GEMM-bound step ({g['flops_per_step'] / 1e9:.2f} GFLOP) against `torch::mm`'s peak on this GPU "
                    f"(`{g['commands']['mm']}`): peak {_m(g['mm']['wall'], 0, 1e-9, ' GFLOP/s')}; the host's step reaches "
                    f"{_m(g['host_fraction_of_peak']['wall'], 3)} of it, the LibTorch loop's {_m(g['baseline_fraction_of_peak']['wall'], 3)} "
                    f"(a batch of 256 is far too small to fill a GPU: these steps are launch-bound, not GEMM-bound, here)."]
    cmds = []
    for key in ("small", "gemm"):
        x = part.get(key)
        if x:
            cmds += [f"`{x['commands'][k]}`" for k in ("host", "baseline", "python", "compiled")]
    if cmds:
        out += ["", "Commands: " + "; ".join(cmds) + "."]
    return "\n".join(out)


def section(info, steps, a, dry):
    gpus = info.get("gpus") or []
    t = info.get("torch", {})
    lines = ["## GPU (scripts/gpu-check)", ""]
    if dry:
        lines += ["**Not yet run on a GPU.** This block is what `scripts/gpu-check --dry-run` renders on a machine without one: "
                  "the checks below were not run and there are no GPU figures.", ""]
    lines += ["Written by `scripts/gpu-check` on a machine with NVIDIA GPU(s), PyTorch 2.x and no network (rerun it there to "
              "replace this block; `bench/run` keeps it as it stands). The build dependencies come as Debian 12 `.deb` files "
              "gathered beforehand by `scripts/gpu-deps` (carried with the source tree) and unpacked into a private prefix; "
              "mmdebias is built against that machine's PyTorch (`torch.utils.cmake_prefix_path`).", "",
              "| | |", "|---|---|",
              f"| command | `{info.get('command')}` ({info.get('wall', 0):.0f} s of a {TOTAL} s budget) |",
              f"| date | {info.get('date')} (commit {info.get('commit')}) |",
              "| GPUs | " + (", ".join("%s: %s (%s)" % (g["index"], g["name"], g["memory"]) for g in gpus) or "none") + " |",
              f"| driver | {gpus[0]['driver'] if gpus else '-'} (`nvidia-smi`) |",
              f"| PyTorch | {t.get('torch')} (CUDA {t.get('cuda')}), `{t.get('python')}`, Python {t.get('python_version')} |",
              f"| CPU | {info.get('cpu')}, {info.get('cores')} cores; {info.get('os')}, {info.get('glibc')} |",
              f"| build | {info.get('compiler')}, cmake {info.get('cmake')}, {info.get('generator')}, -j{info.get('build_jobs', '-')}; "
              f"CUDA for the build: {info.get('cuda_mode')} |",
              f"| deps | {(info.get('deps') or {}).get('packages', '-')} Debian 12 packages, {(info.get('deps') or {}).get('mib', '-')} MiB "
              f"(`scripts/gpu-deps`) |", "", "### Checks", "",
              "| step | result | seconds (planned) | detail |", "|---|---|---|---|"]
    for name, _ in PLAN:
        s = steps.get(name)
        if not s:
            continue
        detail = str(s.get("detail", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {TITLES[name]} | {s['status']} | {s.get('seconds', 0):.0f} ({dict(PLAN)[name]}) | {detail} |")
    dw = (steps.get("data_wait") or {}).get("figures")
    if dw:
        lines += ["", "### Data wait on the GPU", "",
                  "`train.data_wait_fraction` of `summary.json` with the default loader (`run.prefetch` 4, one loader thread) and "
                  "the step on the GPU, 300 steps, 3 rounds; samples/s is whole-run.", "",
                  "| model | waiting for data | samples/s | command |", "|---|---|---|---|"]
        for k, f in dw.items():
            lines.append(f"| {k} | {_m(f['wait'], 2, 100, '%')} | {_m(f['samples_per_s'])} | `{f['command']}` |")
    res = (steps.get("bench") or {}).get("results")
    if res:
        lines += ["", "### The host vs PyTorch eager and torch.compile on the same GPU", "",
                  f"`{info.get('bench_command')}`: bench/run's sections 1-3 with `--device cuda` (the host with `run.device=cuda`, "
                  f"the hand-written LibTorch loop and `bench/pytorch_train.py` with `--device cuda`, all reading the loss before "
                  f"the clock, which drains the stream), arms alternating within each round; steady-state samples/s by wall clock, "
                  f"median (min..max, n) over rounds, ratios taken within each round. Each process is pinned to "
                  f"{a.bench_threads} core(s) with as many intra-op threads.", "", bench_tables(res)]
    lines.append("")
    return "\n".join(lines)


def write_section(text, page, out):
    """The page with its GPU block replaced by `text` (inserted before the analysis when it has none)."""
    begin, end = render.GPU_MARK.format(edge="begin"), render.GPU_MARK.format(edge="end")
    block = f"{begin}\n{text.strip()}\n{end}"
    i, j = page.find(begin), page.find(end)
    if 0 <= i < j:
        new = page[:i] + block + page[j + len(end):]
    else:
        k = page.find(render.ANALYSIS_HEADING)
        new = (page[:k] + block + "\n\n" + page[k:]) if k >= 0 else page.rstrip("\n") + "\n\n" + block + "\n"
    Path(out).write_text(new)
    return new


# --------------------------------------------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="check the script here (no GPU needed): tools, deps, unpack, configure; print the rest")
    p.add_argument("--dry-run-build", action="store_true", help="with --dry-run: build too and check what the host loads (minutes)")
    p.add_argument("--deps", default=str(SRC / "third_party" / "debs"), help="the folder scripts/gpu-deps wrote (default third_party/debs)")
    p.add_argument("--out", help="the page to write the GPU section into (default docs/benchmarks.md; with --dry-run a copy in the build folder)")
    p.add_argument("--build", default=str(SRC / "build-gpu"), help="build folder (default build-gpu; the prefix goes in BUILD/deps-prefix)")
    p.add_argument("--python", default=sys.executable, help="the Python with PyTorch 2.x (default: this one)")
    p.add_argument("--cuda", choices=("auto", "toolkit", "shim"), default="auto",
                   help="how LibTorch's CMake package meets CUDA: the toolkit's nvcc, or scripts/gpu-check.cmake with the wheel's "
                        "runtime (auto: the toolkit where nvcc is found, else the shim, and the shim where the toolkit fails)")
    p.add_argument("--cxx", default=os.environ.get("CXX", "g++"), help="C++ compiler (default $CXX or g++)")
    p.add_argument("--jobs", type=int, default=0, help="build jobs (default: all cores)")
    p.add_argument("--budget", type=float, default=TOTAL, help=f"seconds for everything (default {TOTAL})")
    p.add_argument("--bench-rounds", type=int, default=3)
    p.add_argument("--bench-threads", type=int, default=1, help="cores (and intra-op threads) per benchmarked process (default 1)")
    p.add_argument("--skip", default="", help="comma-separated steps to skip (" + ",".join(n for n, _ in PLAN[4:-1]) + ")")
    a = p.parse_args()
    if a.dry_run_build and not a.dry_run:
        p.error("--dry-run-build goes with --dry-run")
    skip = {s for s in a.skip.split(",") if s}
    unknown = skip - {n for n, _ in PLAN[4:-1]}
    if unknown:
        p.error(f"--skip: unknown step(s) {', '.join(sorted(unknown))}")
    a.deps = os.path.abspath(a.deps)
    build = Path(a.build).resolve()
    prefix, work = build / "deps-prefix", build / "gpu-check"
    build.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(a.out) if a.out else (work / "benchmarks-dry-run.md" if a.dry_run else SRC / "docs" / "benchmarks.md")
    clock = Clock(a.budget)
    runner = Runner(clock, work / "logs", a.dry_run)
    info = {"command": "scripts/gpu-check " + " ".join(shlex.quote(x) for x in sys.argv[1:]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": out_of(["git", "-C", SRC, "rev-parse", "--short", "HEAD"]) or "?"}
    say(clock, f"{'DRY RUN: ' if a.dry_run else ''}budget {a.budget:.0f} s on {os.cpu_count()} cores; plan: "
               + ", ".join(f"{n} {s} s" for n, s in PLAN))
    steps, failed = {}, []
    fns = {"preflight": lambda: preflight(a, clock, info),
           "unpack": lambda: unpack(a, clock, info, prefix),
           "configure": lambda: configure(a, clock, info, prefix, build, runner),
           "build": lambda: build_step(a, clock, info, build, runner, a.dry_run_build),
           "demo": lambda: demo(a, clock, info, build, work, runner),
           "resume": lambda: resume(a, clock, info, build, work, runner),
           "two_gpus": lambda: two_gpus(a, clock, info, build, work, runner),
           "data_wait": lambda: data_wait(a, clock, info, build, work, runner),
           "bench": lambda: bench(a, clock, info, build, work, runner)}
    for name, planned in PLAN[:-1]:
        if name in skip:
            steps[name] = {"status": "skipped", "detail": "--skip", "seconds": 0}
            continue
        say(clock, f"step {name}: {TITLES[name]} (planned {planned} s, may take {clock.timeout_for(name):.0f} s)")
        t0 = time.monotonic()
        try:
            steps[name] = fns[name]()
        except Failure as e:
            steps[name] = {"status": "FAILED", "detail": str(e)}
            failed.append(name)
            say(clock, f"  FAILED: {e}")
            if name in ("preflight", "unpack", "configure", "build"):
                break  # nothing later can run
        steps[name]["seconds"] = time.monotonic() - t0
        say(clock, f"  {steps[name]['status']} in {steps[name]['seconds']:.1f} s"
                   + (f": {steps[name].get('detail')}" if steps[name]['status'] != "FAILED" and steps[name].get("detail") else ""))
    info["wall"] = clock.elapsed()
    t0 = time.monotonic()
    if a.dry_run and "configure" not in steps:
        say(clock, "dry run stopped before configuring: nothing rendered")
    elif "build" in steps:  # a build happened (or was planned): there is something to report
        if not a.dry_run and not a.out and steps["build"]["status"] != "passed":
            out = work / "benchmarks-failed.md"  # a failed build does not replace the page's figures
        text = section(info, steps, a, a.dry_run)
        base = out if a.out and Path(out).exists() else SRC / "docs" / "benchmarks.md"
        page = Path(base).read_text() if Path(base).exists() else ""
        write_section(text, page, out)
        (work / "results.json").write_text(json.dumps({"info": info, "steps": steps}, indent=1, default=str) + "\n")
        steps["report"] = {"status": "passed", "seconds": time.monotonic() - t0}
        say(clock, f"wrote the GPU section into {rel(out)} and {rel(work / 'results.json')}")
    say(clock, f"{'dry run ' if a.dry_run else ''}done in {clock.elapsed():.0f} s: "
               + ", ".join(f"{n} {s['status']}" for n, s in steps.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
