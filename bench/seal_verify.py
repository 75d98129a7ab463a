"""Builds the benchmark trees and times every tool; see seal-verify.sh."""

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

GIB = 1024**3


def make_tree(root, count, size_of, seed, dirs):
    """Writes `count` files with sizes from `size_of(rng)` under `dirs` subdirectories."""
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return
    if os.path.exists(root):
        shutil.rmtree(root)
    rng = random.Random(seed)
    for i in range(count):
        d = os.path.join(root, "d%03d" % (i % dirs))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%06d.bin" % i), "wb") as f:
            f.write(rng.randbytes(size_of(rng)))
    open(marker, "w").close()


def large_size(rng):
    return int(math.exp(rng.uniform(math.log(1024), math.log(1024 * 1024))))


def small_size(rng):
    return rng.randint(1024, 4096)


def tree_bytes(root):
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            total += os.path.getsize(os.path.join(dirpath, name))
    return total


def run(cmd, cwd=None, ok=(0,)):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, shell=isinstance(cmd, str))
    if p.returncode not in ok:
        sys.exit("benchmark command failed (%d): %s\n%s" % (p.returncode, cmd, p.stderr.decode(errors="replace")))


def median_time(cmd, runs, cwd=None, prepare=None):
    run(cmd, cwd)  # warm-up: page cache and any lazy setup
    times = []
    for _ in range(runs):
        if prepare:
            prepare()
        t = time.perf_counter()
        run(cmd, cwd)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_tree(name, src, args, hf, work):
    """Times every tool on copies of `src`; returns {tool: seconds}."""
    print("\n== %s: %s" % (name, src))
    # Each tool gets its own hard-linked copy (no extra data, separate metadata files).
    copies = {}
    for tool in ("holdfast", "sha256sum", "bagit", "intoto", "b3sum"):
        dst = os.path.join(work, "%s-%s" % (name, tool))
        if os.path.exists(dst):
            shutil.rmtree(dst)
        run(["cp", "-al", src, dst])
        os.remove(os.path.join(dst, ".complete"))
        copies[tool] = dst

    t = {}
    hd = copies["holdfast"]
    t["holdfast seal"] = median_time([hf, "seal", "--force", hd], args.runs)
    t["holdfast verify"] = median_time([hf, "verify", hd], args.runs)

    sd = copies["sha256sum"]
    t["sha256sum"] = median_time(
        "find . -type f ! -name MANIFEST -print0 | sort -z | xargs -0 sha256sum > MANIFEST", args.runs, cwd=sd)
    t["sha256sum -c"] = median_time(["sha256sum", "-c", "--quiet", "MANIFEST"], args.runs, cwd=sd)

    bd = copies["bagit"]
    run(["bagit.py", "--quiet", "--sha256", "--processes", "2", bd])
    t["bagit --validate"] = median_time(["bagit.py", "--quiet", "--validate", "--processes", "2", bd], args.runs)

    idir = copies["intoto"]
    key = os.path.join(work, "intoto-key.pem")
    if not os.path.exists(key):
        run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key])
    linkdir = os.path.join(work, "%s-intoto-link" % name)
    os.makedirs(linkdir, exist_ok=True)
    run(["in-toto-run", "-n", "bench", "--signing-key", key, "--products", ".", "-x",
         "--base-path", idir, "--metadata-directory", linkdir])
    link = [os.path.join(linkdir, f) for f in os.listdir(linkdir) if f.endswith(".link")][0]
    t["in-toto-match-products"] = median_time(
        ["in-toto-match-products", "--link", link, "--paths", "."], args.runs, cwd=idir)

    if shutil.which("b3sum"):
        b3 = copies["b3sum"]
        run("find . -type f ! -name B3MANIFEST -print0 | sort -z | xargs -0 b3sum > B3MANIFEST", cwd=b3)
        t["b3sum -c"] = median_time(["b3sum", "-c", "--quiet", "B3MANIFEST"], args.runs, cwd=b3)
    return t


def report(name, t, size, rate, targets):
    print("\n%-24s %10s %12s" % (name, "median s", "MB/s"))
    for tool, secs in t.items():
        print("%-24s %10.3f %12.0f" % (tool, secs, size / secs / 1e6))
    v = t["holdfast verify"]
    print("ratios (other / holdfast verify):")
    for tool in ("sha256sum -c", "bagit --validate", "in-toto-match-products", "b3sum -c"):
        if tool in t:
            want = targets.get(tool)
            got = t[tool] / v
            mark = "" if want is None else ("  target >= %.1fx: %s" % (want, "met" if got >= want else "MISSED"))
            print("  %-24s %6.2fx%s" % (tool, got, mark))
    if rate:
        limit = 2 * rate
        frac = size / v / limit
        print("holdfast verify = %.0f%% of 2 cores x sha2 limit (%.2f GB/s)%s" % (
            frac * 100, limit / 1e9, "  target >= 85%%: %s" % ("met" if frac >= 0.85 else "MISSED")
            if "large" in name else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--holdfast", required=True)
    ap.add_argument("--sha256-rate", type=float, default=0.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    large = os.path.join(args.work, "tree-large")
    small = os.path.join(args.work, "tree-small")
    print("== building trees (fixed seed; reused when present)")
    make_tree(large, 10_000, large_size, seed=1, dirs=100)
    make_tree(small, 100_000, small_size, seed=2, dirs=1000)
    if args.sha256_rate:
        print("sha2 single core in memory: %.2f GB/s" % (args.sha256_rate / 1e9))

    lt = bench_tree("large", large, args, args.holdfast, args.work)
    report("large (10,000 files, %.2f GiB)" % (tree_bytes(large) / GIB), lt, tree_bytes(large), args.sha256_rate,
           {"sha256sum -c": 10, "bagit --validate": 3.5, "in-toto-match-products": 3.9})
    st = bench_tree("small", small, args, args.holdfast, args.work)
    report("small (100,000 files, %.0f MiB)" % (tree_bytes(small) / 1024**2), st, tree_bytes(small), args.sha256_rate,
           {"sha256sum -c": 3, "bagit --validate": 20, "in-toto-match-products": 9, "b3sum -c": 1.0})


if __name__ == "__main__":
    main()
