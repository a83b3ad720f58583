"""The steps that make the build: the .deb files unpacked into a private prefix (nothing is installed), mmdebias
configured against that prefix and this machine's PyTorch (every package checked to come from them), and built."""
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from .runner import SRC, Failure, out_of, rel, say

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
