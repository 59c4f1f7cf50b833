#!/usr/bin/env python3
"""Test of tools/convert_jukebox.py on tiny checkpoints saved like the original Jukebox files.

Builds `vqvae.pth.tar` and `prior_level_2.pth.tar` from the tiny golden fixture's weights in the
original nesting: a legacy-format (non-zip) `torch.save` of `{"hps": Hyperparams, "model": state,
"step": ...}` with `module.`-prefixed keys, a pickled `jukebox.hparams.Hyperparams` object (a fake
module is registered only while saving, so the converter must load it without jukebox), Conv1D `.w`
matrices in f16, two extra prior layers beyond the kept depth and `prior.x_out.weight`. Then runs the
converter in a fresh interpreter and checks the kept keys, shapes and dtypes.

The converted output is committed as llark-encoder/tests/fixtures/jukebox-converted-tiny/
and the Rust test `converted_checkpoint` checks that the loader reads it and reproduces the golden
outputs.

Run from the repository root:

    .venv/bin/python tools/reference/jukebox_convert_test.py
"""

import subprocess
import sys
import tempfile
import types
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "llark-encoder/tests/fixtures"
SOURCE = FIXTURES / "jukebox-tiny"
OUT = FIXTURES / "jukebox-converted-tiny"
DEPTH = 4


def save_original_layout(state, path):
    """torch.save in the 2020 layout, with a pickled jukebox Hyperparams under 'hps'."""
    jukebox = types.ModuleType("jukebox")
    hparams = types.ModuleType("jukebox.hparams")

    class Hyperparams(dict):
        def __getattr__(self, attr):
            return self[attr]

    Hyperparams.__module__ = "jukebox.hparams"
    Hyperparams.__qualname__ = "Hyperparams"
    hparams.Hyperparams = Hyperparams
    jukebox.hparams = hparams
    sys.modules["jukebox"], sys.modules["jukebox.hparams"] = jukebox, hparams
    try:
        hps = Hyperparams(level=2, n_ctx=256, prior_width=64)
        checkpoint = {"hps": hps, "model": {f"module.{k}": v for k, v in state.items()}, "step": 1234}
        torch.save(checkpoint, path, _use_new_zipfile_serialization=False)
    finally:
        del sys.modules["jukebox"], sys.modules["jukebox.hparams"]


def main():
    vqvae = load_file(SOURCE / "vqvae.safetensors")
    prior = load_file(SOURCE / "prior.safetensors")
    # As in the real checkpoint: Conv1D weights in f16 (the fixture values are f16-representable).
    prior = {k: (v.half() if k.endswith(".w") else v) for k, v in prior.items()}
    for extra, src in ((DEPTH, 0), (DEPTH + 1, 1)):
        for k, v in list(prior.items()):
            prefix = f"prior.transformer._attn_mods.{src}."
            if k.startswith(prefix):
                prior[k.replace(prefix, f"prior.transformer._attn_mods.{extra}.")] = v.clone()
    assert "prior.x_out.weight" in prior

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_original_layout(vqvae, tmp / "vqvae.pth.tar")
        save_original_layout(prior, tmp / "prior_level_2.pth.tar")
        with open(tmp / "vqvae.pth.tar", "rb") as f:
            assert f.read(2) != b"PK", "expected the legacy (non-zip) serialisation"
        subprocess.run(
            [sys.executable, str(ROOT / "tools/convert_jukebox.py"), "--vqvae", str(tmp / "vqvae.pth.tar"),
             "--prior", str(tmp / "prior_level_2.pth.tar"), "--out", str(OUT), "--depth", str(DEPTH),
             "--config", str(SOURCE / "config.json")],
            check=True,
        )

    got_vq = load_file(OUT / "vqvae.safetensors")
    want_vq = {k: v for k, v in vqvae.items() if k.startswith("encoders.2.") or k == "bottleneck.level_blocks.2.k"}
    assert set(got_vq) == set(want_vq), sorted(set(got_vq) ^ set(want_vq))
    assert all(torch.equal(got_vq[k], want_vq[k]) for k in want_vq)

    got_pr = load_file(OUT / "prior.safetensors")
    want_pr = {
        k: v for k, v in prior.items()
        if k != "prior.x_out.weight"
        and not any(k.startswith(f"prior.transformer._attn_mods.{i}.") for i in (DEPTH, DEPTH + 1))
    }
    assert set(got_pr) == set(want_pr), sorted(set(got_pr) ^ set(want_pr))
    for k, v in want_pr.items():
        assert got_pr[k].dtype == v.dtype and torch.equal(got_pr[k], v), k
    with safe_open(OUT / "prior.safetensors", "pt") as f:
        assert sum(1 for k in f.keys() if k.endswith(".w")) == 4 * DEPTH
    print(f"ok: {len(got_vq)} VQ-VAE and {len(got_pr)} prior tensors converted into {OUT}")


if __name__ == "__main__":
    main()
