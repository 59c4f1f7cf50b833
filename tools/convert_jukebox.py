#!/usr/bin/env python3
"""Convert the original OpenAI Jukebox checkpoints to the safetensors files llark-encoder reads.

Inputs are the PyTorch pickles published by OpenAI (the state dict sits under the key ``model``;
``hps`` holds a pickled ``jukebox.hparams.Hyperparams`` which is read without the jukebox package):

    https://openaipublic.azureedge.net/jukebox/models/5b/vqvae.pth.tar
    https://openaipublic.azureedge.net/jukebox/models/5b/prior_level_2.pth.tar

Only the tensors of LLark's encoder path are written, under their original names:

- ``vqvae.safetensors``: ``encoders.{level}.*`` and ``bottleneck.level_blocks.{level}.k``;
- ``prior.safetensors``: ``prior.x_emb.weight``, ``prior.pos_emb.pos_emb``, ``y_emb.*`` and
  ``prior.transformer._attn_mods.{i}.*`` for ``i < depth`` (LLark: 36 of 72). ``prior.x_out``,
  deeper layers, other levels and decoders are dropped. A leading ``module.`` is stripped.

Stored dtypes are kept (the prior's Conv1D ``.w`` matrices are f16 in the original: 5.3 GB instead of
10.3 GB); ``--f32`` converts everything to float32. The Rust loader converts to f32 on read.
A ``config.json`` for ``JukeboxConfig`` is written too: the real 5B preset with the chosen depth, or
the file given with ``--config``.

Usage (CPU only; loading the 5B prior needs about 11 GB of RAM):

    .venv/bin/python tools/convert_jukebox.py --vqvae vqvae.pth.tar \\
        --prior prior_level_2.pth.tar --out weights/jukebox-5b [--depth 36] [--level 2]
"""

import argparse
import json
import pickle
import re
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

# The real model used by LLark (JukeboxConfig::jukebox_5b in llark-encoder).
PRESET_5B = {
    "vqvae": {
        "levels": 3, "downs_t": [3, 2, 2], "strides_t": [2, 2, 2], "emb_width": 64, "l_bins": 2048,
        "hvqvae_multipliers": [2, 1, 1], "width": 32, "depth": 4, "m_conv": 1.0,
        "dilation_growth_rate": 3, "dilation_cycle": None,
    },
    "prior": {
        "level": 2, "n_ctx": 8192, "width": 4800, "prior_depth": 36, "heads": 8, "blocks": 128,
        "m_attn": 0.25, "m_mlp": 1.0, "attn_order": 2, "bins": 2048, "y_bins": [120, 4111],
        "t_bins": 128, "max_bow_genre_size": 5, "sr": 44100, "min_duration": 60.0,
        "max_duration": 600.0,
    },
    "labels": [2734080, 0, 1048576, 0, 0, -1, -1, -1, -1],
    "sample_rate": 44100,
}


class _Stub(dict):
    """Stands in for classes of packages that are not installed (e.g. jukebox.hparams.Hyperparams)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.update(state)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _Stub


# torch.load accepts any module-like object exposing Unpickler and load.
_pickle_module = types.SimpleNamespace(
    Unpickler=_Unpickler,
    load=lambda f, **kw: _Unpickler(f, **kw).load(),
    __name__="jukebox_stub_pickle",
)


def load_state_dict(path):
    """Returns the checkpoint's state dict (under ``model``, ``module.`` stripped)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_pickle_module)
    state = checkpoint["model"] if isinstance(checkpoint, dict) and "model" in checkpoint else checkpoint
    return {re.sub(r"^module\.", "", k): v for k, v in state.items() if torch.is_tensor(v)}


def select_vqvae(state, level):
    keep = lambda k: k.startswith(f"encoders.{level}.") or k == f"bottleneck.level_blocks.{level}.k"
    return {k: v for k, v in state.items() if keep(k)}


def select_prior(state, depth):
    def keep(k):
        m = re.match(r"prior\.transformer\._attn_mods\.(\d+)\.", k)
        if m:
            return int(m.group(1)) < depth
        return k in ("prior.x_emb.weight", "prior.pos_emb.pos_emb") or k.startswith("y_emb.")

    return {k: v for k, v in state.items() if keep(k)}


def write(tensors, path, f32):
    out = {}
    for k, v in tensors.items():
        v = v.detach()
        if f32 and v.is_floating_point():
            v = v.float()
        out[k] = v.contiguous().clone()
    save_file(out, str(path))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vqvae", required=True, type=Path, help="vqvae.pth.tar")
    parser.add_argument("--prior", required=True, type=Path, help="prior_level_2.pth.tar")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--depth", type=int, default=36, help="prior layers to keep (LLark: 36)")
    parser.add_argument("--level", type=int, default=2, help="VQ-VAE level of the prior (2)")
    parser.add_argument("--config", type=Path, help="config.json to copy instead of the 5B preset")
    parser.add_argument("--f32", action="store_true", help="store every float tensor as float32")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    vqvae = load_state_dict(args.vqvae)
    kept_vqvae = select_vqvae(vqvae, args.level)
    write(kept_vqvae, args.out / "vqvae.safetensors", args.f32)
    prior = load_state_dict(args.prior)
    kept_prior = select_prior(prior, args.depth)
    layers = {int(m.group(1)) for k in kept_prior for m in [re.match(r"prior\.transformer\._attn_mods\.(\d+)\.", k)] if m}
    if layers != set(range(args.depth)):
        sys.exit(f"error: {args.prior} has layers {sorted(layers)}, expected 0..{args.depth - 1}")
    write(kept_prior, args.out / "prior.safetensors", args.f32)

    if args.config:
        config = json.loads(args.config.read_text())
    else:
        config = json.loads(json.dumps(PRESET_5B))
    config["prior"]["prior_depth"] = args.depth
    config["prior"]["level"] = args.level
    (args.out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    print(f"vqvae: kept {len(kept_vqvae)} of {len(vqvae)} tensors; "
          f"prior: kept {len(kept_prior)} of {len(prior)} tensors; wrote {args.out}")


if __name__ == "__main__":
    main()
