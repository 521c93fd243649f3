#!/usr/bin/python3
"""compare_io.py: vpcast's clip readers beside h5py and netCDF4-python.

Runs bench/bench_io (through mpirun, 1 and 2 ranks) and then reads the very
same files, the same clips, with h5py (packed HDF5) and netCDF4-python (the
ERA5-like NetCDF4 and NetCDF3 files) in 1 and 2 processes, producing what
the C readers produce: float32 clips normalised to [-1, 1] plus masks.
Prints a side-by-side table (markdown with --markdown) for docs/performance.md.
A benchmark, not a test.

  /usr/bin/python3 bench/compare_io.py --bench build/bench/bench_io \
      [--clips 64] [--frames 16] [--size 128] [--passes 3] [--dir /tmp/vpcast-bench-io] [--markdown]

Needs Debian's python3-h5py, python3-netcdf4 and python3-numpy.
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time

import h5py
import netCDF4
import numpy as np


def run_bench(a, ranks):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1")
    cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), a.bench, "--json", "--dir", a.dir,
           "--clips", str(a.clips), "--frames", str(a.frames), "--size", str(a.size),
           "--passes", str(a.passes)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return {r["reader"]: r for r in (json.loads(l) for l in out.splitlines() if l.startswith("{"))}


def paths(a):
    tag = f"n{a.clips}_t{a.frames}_s{a.size}"
    return {"packed": f"{a.dir}/synth_{tag}.h5", "nc4": f"{a.dir}/era5new_{tag}.nc",
            "nc3": f"{a.dir}/era5legacy_{tag}.nc"}


# ---- readers producing what vpcast's sources produce ----

def text(v):
    """Fixed-length HDF5 string attributes come back as bytes."""
    return v.decode() if isinstance(v, bytes) else str(v)


class PackedReader:
    """h5py: clip i of every modality, decoded through a per-modality lookup
    table (raw -> [-1, 1], semantic ids as floats), masks where raw == invalid."""

    def __init__(self, path):
        self.f = h5py.File(path, "r")
        self.mods = []
        for name in text(self.f.attrs["modalities"]).split(","):
            g = self.f["modalities"][name]
            ds = g["frames"]
            kind = text(g.attrs["kind"])
            nraw = 256 if ds.dtype == np.uint8 else 65536
            phys = np.arange(nraw, dtype=np.float64) * g.attrs["scale"] + g.attrs["offset"]
            if kind == "semantic":
                lut = phys
            else:
                vmin, vmax = g.attrs["vmin"], g.attrs["vmax"]
                lut = -1.0 + 2.0 * (phys - vmin) / (vmax - vmin)
            inv = int(g.attrs["invalid"]) if g.attrs["has_invalid"] else None
            if inv is not None:
                lut[inv] = 0.0
            self.mods.append((ds, lut.astype(np.float32), inv))
        self.n = self.mods[0][0].shape[0]

    def read(self, i):
        out = []
        for ds, lut, inv in self.mods:
            raw = ds[i]                      # (T, H, W, C)
            x = lut[raw]
            m = (raw != inv).all(axis=-1) if inv is not None else None
            out.append((x, m))
        return out


class NetcdfReader:
    """netCDF4-python: time steps [i*T, (i+1)*T) of t2m and sp (auto unpacking
    and masking), min-max normalised to [-1, 1] with bounds from the file,
    missing cells 0 with a mask."""

    def __init__(self, path, frames):
        self.ds = netCDF4.Dataset(path, "r")
        self.T = frames
        self.vars = []
        for name in ("t2m", "sp"):
            v = self.ds.variables[name]
            v.set_auto_maskandscale(True)
            sample = v[: min(v.shape[0], 4 * frames)]
            lo, hi = float(sample.min()), float(sample.max())
            self.vars.append((v, lo, hi))
        self.n = self.vars[0][0].shape[0] // frames

    def read(self, i):
        out = []
        for v, lo, hi in self.vars:
            a = v[i * self.T:(i + 1) * self.T]   # masked (T, H, W)
            m = ~np.ma.getmaskarray(a)
            x = (np.ma.filled(a.astype(np.float64), np.nan) - lo) * (2.0 / (hi - lo)) - 1.0
            x = np.where(m, x, 0.0).astype(np.float32)
            out.append((x, m))
        return out


def read_share(kind, path, frames, rank, nproc, passes, start, q):
    try:
        q.put((rank, read_share_(kind, path, frames, rank, nproc, passes, start)))
    except Exception as e:  # report instead of leaving the parent waiting
        start.abort()
        q.put((rank, e))


def read_share_(kind, path, frames, rank, nproc, passes, start):
    r = PackedReader(path) if kind == "packed" else NetcdfReader(path, frames)
    n = r.n
    per = (n + nproc - 1) // nproc           # padded like the sampler
    rng = np.random.default_rng(1)
    orders = [rng.permutation(n) for _ in range(passes + 1)]
    share = lambda o: [o[(k * nproc + rank) % n] for k in range(per)]
    for i in share(orders[0]):               # warm-up
        r.read(int(i))
    start.wait()
    t0 = time.perf_counter()
    for p in range(passes):
        for i in share(orders[p + 1]):
            r.read(int(i))
    dt = time.perf_counter() - t0
    return passes * per / dt


def run_python(kind, path, a, nproc):
    ctx = mp.get_context("fork")
    start = ctx.Barrier(nproc)
    q = ctx.Queue()
    ps = [ctx.Process(target=read_share, args=(kind, path, a.frames, r, nproc, a.passes, start, q))
          for r in range(nproc)]
    for p in ps:
        p.start()
    res = dict(q.get(timeout=3600) for _ in ps)
    for p in ps:
        p.join()
    for r, v in res.items():
        if isinstance(v, Exception):
            raise RuntimeError(f"{kind} reader, process {r}: {v!r}")
    return [res[r] for r in range(nproc)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, help="path to bench_io")
    ap.add_argument("--dir", default="/tmp/vpcast-bench-io")
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    c_res = {r: run_bench(a, r) for r in (1, 2)}   # also makes the files
    p = paths(a)
    names = {"packed": ("packed HDF5 (rgb u8x3, depth u16, sem u8)", "h5py"),
             "nc4": ("NetCDF4 ERA5 (t2m, sp f32, zlib+shuffle)", "netCDF4-python"),
             "nc3": ("NetCDF3 ERA5 (t2m, sp i16 packed)", "netCDF4-python")}
    rows = []
    for kind in ("packed", "nc4", "nc3"):
        for ranks in (1, 2):
            c = c_res[ranks][kind]
            py = run_python(kind, p[kind], a, ranks)
            cc = c["clips_per_s"]
            rows.append((names[kind][0], ranks, cc, c["raw_mb_per_s"], names[kind][1], py,
                         sum(cc) / sum(py)))
    hdr = (f"{a.clips} clips x {a.frames} frames x {a.size}x{a.size}, from the page cache, one clip per read, "
           f"shuffled order; {platform.node()}, {os.cpu_count()} cores; h5py {h5py.__version__} "
           f"(HDF5 {h5py.version.hdf5_version}), netCDF4 {netCDF4.__version__} "
           f"(netcdf-c {netCDF4.__netcdf4libversion__}), numpy {np.__version__}")
    fmt = lambda xs: " / ".join(f"{x:.0f}" for x in xs)
    if a.markdown:
        print(hdr + "\n")
        print("| data | ranks | vpcast clips/s per rank | vpcast MB/s per rank (stored) | python reader "
              "| python clips/s per process | vpcast / python |")
        print("|---|---|---|---|---|---|---|")
        for d, r, cc, mb, pyname, py, ratio in rows:
            print(f"| {d} | {r} | {fmt(cc)} | {fmt(mb)} | {pyname} | {fmt(py)} | {ratio:.1f}x |")
    else:
        print(hdr)
        for d, r, cc, mb, pyname, py, ratio in rows:
            print(f"{d:44s} ranks {r}: vpcast {fmt(cc):>13s} clips/s ({fmt(mb)} MB/s)   "
                  f"{pyname} {fmt(py):>13s} clips/s   ratio {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
