"""The whole performance table in one run: llark-rs and PyTorch side by side on the same
configurations and thread count, with the machine's limits (read bandwidth, f32 GEMM rate)
measured in the same run.

Run from the repository root with a venv that has torch 2.9.0 and transformers 4.44.2:

    python3 tools/perf_table.py --python .venv/bin/python [--threads 1] [--with-7b]

It runs, in order:
- `cargo bench -p llark-kernels --bench gemv` (read bandwidth, GEMM rate, packed one-row products);
- `cargo bench -p llark-lm --bench llama` (prefill 256, decode 64 after 256 and 768, packed decode;
  criterion's medians are read from `target/criterion/*/new/estimates.json`) and
  `tools/reference/llama_bench.py` (transformers, the same model and token ids);
- `cargo bench --bench train_step` and `tools/reference/train_step_bench.py`;
- with `--with-7b`, `cargo run --release -p llark-lm --example packed_7b` (13.5 GB of disk).

and prints a Markdown table (ours, PyTorch, ratio) followed by the limits and, for decoding, the
share of the read-bandwidth bound (bytes one token reads / bandwidth). `RAYON_NUM_THREADS` and
`OMP_NUM_THREADS` are set to `--threads` for every command.
"""

import argparse
import json
import os
import re
import subprocess
import sys

# The bench model of llark-lm/benches/llama.rs and tools/reference/llama_bench.py.
HIDDEN, MLP, LAYERS, VOCAB = 768, 2048, 14, 32004
F32_BYTES_PER_TOKEN = 4 * (LAYERS * (4 * HIDDEN * HIDDEN + 3 * HIDDEN * MLP) + VOCAB * HIDDEN)


def run(cmd, env):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-4000:] + out.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return out.stdout + out.stderr


def criterion_rate(group, name, elements):
    path = os.path.join("target", "criterion", group, name, "new", "estimates.json")
    with open(path) as f:
        median_ns = json.load(f)["median"]["point_estimate"]
    return elements / (median_ns * 1e-9)


def grab(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        raise SystemExit(f"no {what} in the output:\n{text[-2000:]}")
    return float(m.group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default=".venv/bin/python")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--with-7b", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))

    gemv = run(["cargo", "bench", "--locked", "-p", "llark-kernels", "--bench", "gemv"], env)
    bandwidth = grab(r"read bandwidth ([\d.]+) GB/s", gemv, "bandwidth") * 1e9
    gemm = grab(r"f32 GEMM \(1 thread\) ([\d.]+) GFLOP/s", gemv, "GEMM rate")

    run(["cargo", "bench", "--locked", "-p", "llark-lm", "--bench", "llama"], env)
    ours = {
        "prefill_256": criterion_rate("llama-150m", "prefill_256", 256),
        "decode_64": criterion_rate("llama-150m", "decode_64", 64),
        "decode_64_after_768": criterion_rate("llama-150m", "decode_64_after_768", 64),
        "decode_64_bf16": criterion_rate("llama-150m-packed", "decode_64_bf16", 64),
        "decode_64_int8": criterion_rate("llama-150m-packed", "decode_64_int8", 64),
    }
    torch_llama = run([args.python, "tools/reference/llama_bench.py", "--threads", str(args.threads)], env)
    theirs = {
        name: grab(rf"{name}: [\d.]+ ms, ([\d.]+) tokens/s", torch_llama, name)
        for name in ("prefill_256", "decode_64", "decode_64_after_768")
    }

    train_ours = run(["cargo", "bench", "--locked", "--bench", "train_step"], env)
    train_theirs = run([args.python, "tools/reference/train_step_bench.py", "--threads", str(args.threads)], env)
    ours["train_step"] = grab(r"median ([\d.]+) tokens/s", train_ours, "train step")
    theirs["train_step"] = grab(r"median ([\d.]+) tokens/s", train_theirs, "torch train step")

    rows = [
        ("LM prefill, 256 tokens, 148M params", "prefill_256"),
        ("LM decode, 64 after 256", "decode_64"),
        ("LM decode, 64 after 768", "decode_64_after_768"),
        ("training step, small LLark (tokens/s)", "train_step"),
    ]
    print(f"\n{args.threads} thread(s); read bandwidth {bandwidth / 1e9:.1f} GB/s, "
          f"f32 GEMM {gemm:.1f} GFLOP/s (gemm crate, one thread), measured in this run\n")
    print("| workload | llark-rs | PyTorch | ratio |")
    print("|---|---|---|---|")
    for label, key in rows:
        print(f"| {label} | {ours[key]:.1f} | {theirs[key]:.1f} | {ours[key] / theirs[key]:.2f} |")
    bound = bandwidth / F32_BYTES_PER_TOKEN
    print(f"\ndecode bound (f32, {F32_BYTES_PER_TOKEN / 1e6:.0f} MB a token): {bound:.1f} tok/s; "
          f"llark-rs f32 decode {ours['decode_64']:.1f} tok/s = {100 * ours['decode_64'] / bound:.0f} % of it; "
          f"bf16 {ours['decode_64_bf16']:.1f} tok/s ({100 * ours['decode_64_bf16'] / (2 * bound):.0f} % of its bound), "
          f"int8 {ours['decode_64_int8']:.1f} tok/s")
    if args.with_7b:
        print(run(["cargo", "run", "--locked", "--release", "-p", "llark-lm", "--example", "packed_7b"], env))


if __name__ == "__main__":
    main()
