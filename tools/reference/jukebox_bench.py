#!/usr/bin/env python3
"""Speed of the original Jukebox code on the workload of llark-encoder's criterion bench.

Workload (same as llark-encoder/benches/jukebox_encode.rs): one 1,048,576-sample window
(23.78 s at 44.1 kHz) through the real-size VQ-VAE `encoders[2]` (width 32, depth 4) and level-2
quantisation (2048 x 64 codebook), then the top prior at the real context (n_ctx 8192, 128 blocks of
64) with a reduced width and depth (default 512 and 3: one layer of each attention pattern), heads 8,
`only_encode`, f32, random weights; the label conditioning is computed once beforehand, as the Rust
model does at load time. It runs the original OpenAI Jukebox code (commit 08efbbc, extracted outside
the repository; see jukebox_fixtures.py for the CPU patches) with torch's CPU kernels.

    .venv/bin/python tools/reference/jukebox_bench.py --jukebox /tmp/jukebox_src \\
        [--width 512] [--depth 3] [--repeats 3] [--threads 2]

Prints seconds per clip and seconds of audio encoded per second for the whole encode and for the
VQ-VAE part alone.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jukebox_fixtures import SR, patch_and_import  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jukebox", required=True, type=Path)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    setup_hparams, make_vqvae, make_prior = patch_and_import(args.jukebox)

    sample_length = 1_048_576
    vqvae = make_vqvae(setup_hparams("vqvae", dict(sample_length=sample_length, restore_vqvae="")), "cpu")
    prior = make_prior(setup_hparams("prior_5b", dict(prior_width=args.width, prior_depth=args.depth,
                                                      restore_prior="")), vqvae, "cpu")
    with torch.no_grad():
        for p in list(vqvae.parameters()) + list(prior.parameters()):
            p.copy_((torch.randn(p.shape) * 0.05).to(p.dtype))
        vqvae.bottleneck.level_blocks[2].k.normal_()
    vqvae.eval()
    prior.eval()
    prior.prior.only_encode = True

    t = np.arange(sample_length) / SR
    audio = (0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 331 * t)).astype(np.float32)
    audio /= np.abs(audio).max()
    x = torch.from_numpy(audio[None, :, None])
    labels = torch.tensor([[2734080, 0, 0, 0, 0, -1, -1, -1, -1]])
    with torch.no_grad():
        x_cond, y_cond, _ = prior.get_cond(None, prior.get_y({"y": labels, "info": [{}]}, 0))

    def codes():
        e = vqvae.encoders[2](vqvae.preprocess(x))[-1]
        return vqvae.bottleneck.level_blocks[2].encode(e)

    def encode():
        z = codes()
        return prior.prior.forward(z, x_cond=x_cond, y_cond=y_cond, encoder_kv=None, fp16=False)

    clip_seconds = sample_length / SR
    for name, fn in (("encode", encode), ("vqvae_codes", codes)):
        with torch.no_grad():
            fn()  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                out = fn()
                times.append(time.perf_counter() - start)
        med = statistics.median(times)
        print(f"{name}: width {args.width} depth {args.depth}: {med:.3f} s/clip "
              f"(min {min(times):.3f}), {clip_seconds / med:.2f} s of audio per s; out {tuple(out.shape)}")


if __name__ == "__main__":
    main()
