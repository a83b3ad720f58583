"""Which LibTorch a build of the host runs on, and which Python runs the PyTorch reference beside it.

mmdebias builds against two LibTorch versions: Debian's 1.13 packages (build/, its Python /usr/bin/python3 with
Debian's python3-torch) and the LibTorch inside a pip wheel of torch 2.x (build-torch2/, its Python the venv that
holds the wheel, which scripts/setup --torch pip records as MMDEBIAS_PYTHON in the build's CMakeCache.txt). The
comparison with PyTorch means something only when both sides run the same LibTorch (kernels, BLAS, OpenMP), so
bench/run finds the library the host binary actually loads (`ldd`), finds the Python beside the build, and checks
that its torch is that same library before measuring anything.

Nothing here imports torch: the Python side is asked in a child process (`probe`).
"""
import json
import os
import re
import subprocess
from pathlib import Path

DEBIAN_PYTHON = "/usr/bin/python3"


def _sh(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return ""


def cmake_cache(build):
    """The entries of <build>/CMakeCache.txt as {name: value} (empty when there is none)."""
    path = Path(build) / "CMakeCache.txt"
    out = {}
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_.+-]*):[A-Z]+=(.*)$", line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def loaded_library(binary, name="libtorch_cpu.so"):
    """The file `ldd` resolves the binary's `name` to (its real path), or None."""
    for line in _sh(["ldd", str(binary)]).splitlines():
        parts = line.split()
        if parts and parts[0].startswith(name) and "=>" in parts and len(parts) > parts.index("=>") + 1:
            target = parts[parts.index("=>") + 1]
            if target.startswith("/"):
                return os.path.realpath(target)
    return None


def _dpkg_owner(path):
    """(package, version) of the Debian package that installed `path`, or (None, None)."""
    owner = _sh(["dpkg", "-S", path]).split(":")[0] if path else ""
    if not owner:
        return None, None
    return owner, _sh(["dpkg-query", "-W", "-f=${Version}", owner]) or None


def _wheel_version(torch_package_dir):
    """torch.__version__ of an installed torch package, read from its version.py without importing it."""
    try:
        text = (Path(torch_package_dir) / "version.py").read_text()
    except OSError:
        return None
    m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    return m.group(1) if m else None


def _torch_package_of(path):
    """The `torch` package directory a library or CMake directory inside a Python install belongs to, or None."""
    p = Path(path)
    for parent in [p] + list(p.parents):
        if parent.name == "torch" and (parent / "__init__.py").is_file():
            return str(parent)
    return None


def host_libtorch(build, host):
    """What the host of `build` runs on: {"kind": "wheel"|"debian"|"other", "version", "major", "library",
    "torch_dir", "package" (Debian) or "torch_package" (wheel)}."""
    cache = cmake_cache(build)
    torch_dir = cache.get("Torch_DIR", "")
    library = loaded_library(host)
    info = {"torch_dir": torch_dir or None, "library": library}
    where = library or torch_dir
    package_dir = _torch_package_of(where) if where else None
    if package_dir:
        info.update(kind="wheel", torch_package=package_dir, version=_wheel_version(package_dir))
    else:
        owner, version = _dpkg_owner(library or (os.path.join(torch_dir, "TorchConfig.cmake") if torch_dir else None))
        if owner:
            info.update(kind="debian", package=owner, version=version)
        else:
            info.update(kind="other", version=None)
    v = info.get("version") or ""
    m = re.match(r"(\d+)\.(\d+)", v)
    info["major"] = int(m.group(1)) if m else None
    if info["major"] is None and (library or "").endswith((".so.1.13", "1.13")):
        info["major"] = 1
    return info


def python_beside(build, libtorch):
    """The Python whose torch is the build's LibTorch: MMDEBIAS_PYTHON from the build's CMakeCache.txt (scripts/setup
    --torch pip sets it), else the interpreter of the install that holds the wheel, else Debian's /usr/bin/python3.
    Returns (path, how it was found)."""
    cached = cmake_cache(build).get("MMDEBIAS_PYTHON")
    if cached and os.access(cached, os.X_OK):
        return cached, "`MMDEBIAS_PYTHON` of the build's CMakeCache.txt"
    if libtorch.get("kind") == "wheel":
        # <root>/lib/pythonX.Y/site-packages/torch -> <root>/bin/python (a venv or a prefix install)
        root = Path(libtorch["torch_package"]).parents[3]
        for name in ("python", "python3"):
            candidate = root / "bin" / name
            if os.access(candidate, os.X_OK):
                return str(candidate), f"the interpreter of the install that holds the wheel, {root}"
    return DEBIAN_PYTHON, "Debian's Python, the default for a build on Debian's LibTorch"


PROBE = r"""
import json, os, sys, sysconfig
out = {"executable": sys.executable, "python_version": sys.version.split()[0]}
try:
    import torch
except Exception as e:  # noqa: BLE001
    out["error"] = f"import torch failed: {type(e).__name__}: {e}"
    print(json.dumps(out)); sys.exit(0)
threads = int(sys.argv[1])
torch.set_num_threads(threads)
out.update(version=torch.__version__, package=os.path.dirname(os.path.realpath(torch.__file__)),
           num_threads=torch.get_num_threads(), has_compile=hasattr(torch, "compile"))
cfg = torch.__config__
out["config"] = cfg.show()
out["parallel_info"] = cfg.parallel_info()
inc = sysconfig.get_paths().get("include") or ""
out["python_h"] = os.path.join(inc, "Python.h") if os.path.isfile(os.path.join(inc, "Python.h")) else None
out["python_include"] = inc
print(json.dumps(out))
"""


def probe(python, threads, runner):
    """The Python side, asked under the same thread settings as the measured arms: torch version and package,
    torch.__config__.show() and parallel_info(), and whether inductor can find Python.h. `runner(cmd)` runs a
    command under those settings and returns its stdout."""
    text = runner([python, "-c", PROBE, str(threads)])
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": f"no answer from {python}: {text[-500:]}"}


def blas_of(config):
    """BLAS_INFO and the BLAS library line of torch.__config__.show()."""
    m = re.search(r"BLAS_INFO=([^,\s]+)", config or "")
    line = next((l.strip(" -") for l in (config or "").splitlines() if "Math Kernel Library" in l or "OpenBLAS" in l), "")
    return {"blas_info": m.group(1) if m else None, "library": line or None}


def parallel_summary(parallel_info):
    """The thread counts of torch.__config__.parallel_info() on one line."""
    keys = [("at::get_num_threads()", "at::get_num_threads"), ("omp_get_max_threads()", "omp_get_max_threads"),
            ("mkl_get_max_threads()", "mkl_get_max_threads"), ("ATen parallel backend", "backend")]
    parts = []
    for key, label in keys:
        m = re.search(re.escape(key) + r"\s*:\s*(.+)", parallel_info or "")
        if m:
            parts.append(f"{label} {m.group(1).strip()}")
    return ", ".join(parts)


def same_libtorch(libtorch, py):
    """(True, why) when the Python's torch is the host's LibTorch; (False, why not) otherwise."""
    if "error" in py:
        return False, py["error"]
    if libtorch.get("kind") == "wheel":
        if os.path.realpath(py["package"]) == os.path.realpath(libtorch["torch_package"]):
            return True, f"the same wheel install ({libtorch['torch_package']})"
        if py["version"] == libtorch.get("version"):
            return True, f"the same wheel version {py['version']}, another install ({py['package']})"
        return False, f"the host runs the torch {libtorch.get('version')} wheel at {libtorch['torch_package']}, the Python torch {py['version']} at {py['package']}"
    if libtorch.get("kind") == "debian":
        owner, version = _dpkg_owner(os.path.join(py["package"], "__init__.py"))
        if owner and version == libtorch.get("version"):
            py["debian_package"], py["debian_version"] = owner, version
            return True, f"Debian {owner} {version}, built from the same source as {libtorch['package']} {version}"
        return False, f"the host runs Debian {libtorch.get('package')} {libtorch.get('version')}, the Python torch {py['version']} at {py['package']} ({(owner + ' ' + (version or '')) if owner else 'no Debian package'})"
    return False, f"cannot tell which LibTorch the host loads (ldd found {libtorch.get('library')})"


def describe_libtorch(lt):
    if lt.get("kind") == "wheel":
        return f"torch {lt.get('version')} wheel's LibTorch ({lt['torch_package']})"
    if lt.get("kind") == "debian":
        return f"Debian {lt.get('package')} {lt.get('version')}"
    return f"unknown ({lt.get('library') or lt.get('torch_dir')})"


def system_blas():
    """Where Debian's libblas.so.3 alternative points (what Debian's LibTorch uses)."""
    return _sh(["sh", "-c", "update-alternatives --query libblas.so.3-x86_64-linux-gnu | sed -n 's/^Value: //p'"]) or None


def allocator(binary):
    """The malloc a binary links in place of glibc's (jemalloc, tcmalloc, mimalloc), by `ldd`; None for glibc's."""
    for line in _sh(["ldd", str(binary)]).splitlines():
        name = line.split()[0] if line.split() else ""
        for lib in ("jemalloc", "tcmalloc", "mimalloc"):
            if name.startswith("lib" + lib):
                return lib
    return None


def openblas_core(baseline):
    """The kernel family OpenBLAS picks on this CPU (its `OPENBLAS_VERBOSE=2` line), or None where the program does
    not load OpenBLAS. On a virtual CPU it does not recognise it falls back to an old one (Prescott: SSE3)."""
    env = dict(os.environ, OPENBLAS_VERBOSE="2", OMP_NUM_THREADS="1")
    try:
        p = subprocess.run([str(baseline), "mm", "--size", "64", "--repeats", "1", "--threads", "1"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"^Core: (\S+)", p.stdout, re.M)
    return m.group(1) if m else None
