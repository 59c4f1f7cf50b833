#!/usr/bin/env python3
"""Golden fixtures for llark-encoder's Jukebox path, produced by the original OpenAI Jukebox code.

Writes fixture directories in the format of tests/fixtures/JUKEBOX-FIXTURES.md (config.json,
vqvae.safetensors, prior.safetensors, reference.safetensors) for tiny random-weight models whose sizes,
seeds, label vectors and audio lengths differ from the public `jukebox-tiny*` fixtures: other
block/head layouts (block_ctx > blocks), depth 6 and 3, a general label vector, the relative-position
clamp path, non-unit VQ-VAE multipliers at level 2, a dilation cycle, m_conv != 1, audio longer than
one window (truncated) and shorter than one window (end-padded).

The Jukebox code is not part of this repository. Extract it (commit
08efbbc1d4ed1a3cef96e08a931944c8b4d63bb3, the one LLark pins) to a directory outside the repository
and pass it with --jukebox. It runs on CPU with torch 2.9 after these patches, applied here at
run time (the Jukebox files are not modified): `Tensor.cuda` is a no-op; `torch.arange(device='cuda')`
runs on CPU; `torch.cuda.LongTensor` / `FloatTensor` alias the CPU types so Jukebox's isinstance
asserts stay active; `dist_adapter.is_available()` is False; apex is hidden (torch LayerNorm);
`fire`, `mpi4py` and `unidecode` are stubbed (imported, unused).

    git --git-dir=<mirror of openai/jukebox> archive 08efbbc | tar -x -C /tmp/jukebox_src
    .venv/bin/python tools/reference/jukebox_fixtures.py --jukebox /tmp/jukebox_src \\
        --out llark-encoder/tests/fixtures

Single thread, f32, deterministic: regenerating gives identical files.
"""

import argparse
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

VARIANTS = {
    # n_ctx 256 with 4 blocks of 64 (block_ctx > blocks), 4 heads of width 4, 6 layers (two full
    # pattern cycles); general labels; audio longer than one window (truncated, latent_len > n_ctx).
    "jukebox-gen-long": dict(
        seed=11,
        vqvae=dict(downs_t=(3, 2, 2), strides_t=(2, 2, 2), emb_width=8, l_bins=32, width=8, depth=3,
                   m_conv=1.0, dilation_growth_rate=3, dilation_cycle=None, hvqvae_multipliers=(2, 1, 1)),
        prior=dict(n_ctx=256, prior_width=64, prior_depth=6, heads=4, blocks=4, m_attn=0.25, m_mlp=1.0,
                   y_bins=(6, 10), t_bins=16, min_duration=0.5, max_duration=2.0),
        labels=[60000, 20000, 0, 3, 1, 4, -1, -1, -1],
        audio_len=40000,
    ),
    # n_ctx 512 with 16 blocks of 32, 2 heads, 3 layers, width 32, MLP 2x; level-2 multiplier 2
    # (encoder width 8, depth 4), dilation cycle 2, m_conv 0.5; relative-position clamp path with a
    # duplicated genre; audio shorter than one window (end-padded).
    "jukebox-gen-clamp": dict(
        seed=12,
        vqvae=dict(downs_t=(3, 2, 2), strides_t=(2, 2, 2), emb_width=8, l_bins=16, width=4, depth=2,
                   m_conv=0.5, dilation_growth_rate=3, dilation_cycle=2, hvqvae_multipliers=(1, 1, 2)),
        prior=dict(n_ctx=512, prior_width=32, prior_depth=3, heads=2, blocks=16, m_attn=0.5, m_mlp=2.0,
                   y_bins=(8, 12), t_bins=16, min_duration=0.5, max_duration=4.0),
        labels=[60000, 40000, 0, 7, 5, 2, 2, -1, -1],
        audio_len=30000,
    ),
}

SR = 44100


def patch_and_import(jukebox_dir):
    sys.path.insert(0, str(jukebox_dir))
    sys.modules["apex"] = None  # hide the vendored apex: torch LayerNorm, as without apex
    for name in ("fire", "mpi4py"):
        sys.modules.setdefault(name, types.ModuleType(name))
    unidecode = types.ModuleType("unidecode")
    unidecode.unidecode = lambda s: s
    sys.modules["unidecode"] = unidecode
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    arange = torch.arange

    def cpu_arange(*a, **k):
        if str(k.get("device", "")).startswith("cuda"):
            k["device"] = "cpu"
        return arange(*a, **k)

    torch.arange = cpu_arange
    torch.cuda.LongTensor = torch.LongTensor
    torch.cuda.FloatTensor = torch.FloatTensor
    import jukebox.utils.dist_adapter as dist_adapter

    dist_adapter.is_available = lambda: False
    from jukebox.hparams import setup_hparams
    from jukebox.make_models import make_prior, make_vqvae

    return setup_hparams, make_vqvae, make_prior


def reinit(module, gen):
    """Spec §6.3: every parameter and buffer re-drawn so that each tensor's layout is checked."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2 and not ("emb" in name):
                fan_in = p.shape[0] if name.endswith(".w") else int(np.prod(p.shape[1:]))
                v = torch.randn(p.shape, generator=gen) / math.sqrt(fan_in)
                if name.endswith("c_attn.w"):
                    v = v * 2.0
            elif "emb" in name:
                v = torch.randn(p.shape, generator=gen) * 0.5
            elif name.endswith("ln_0.weight") or name.endswith("ln_1.weight"):
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=gen)
            else:
                v = 0.1 * torch.randn(p.shape, generator=gen)
            p.copy_(v.to(p.dtype))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jukebox", required=True, type=Path, help="extracted openai/jukebox tree")
    parser.add_argument("--out", required=True, type=Path, help="fixtures directory")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    setup_hparams, make_vqvae, make_prior = patch_and_import(args.jukebox)
    for name in args.variant or sorted(VARIANTS):
        generate(name, VARIANTS[name], args.out / name, setup_hparams, make_vqvae, make_prior)


def generate(name, spec, out, setup_hparams, make_vqvae, make_prior):
    gen = torch.Generator().manual_seed(spec["seed"])
    v, p = spec["vqvae"], spec["prior"]
    hop = int(np.prod([s ** d for s, d in zip(v["strides_t"], v["downs_t"])]))
    n_ctx = p["n_ctx"]
    sample_length = n_ctx * hop
    vq_hps = setup_hparams("", dict(sample_length=sample_length, levels=3, commit=0.02, l_mu=0.99,
                                    spectral=0.0, multispectral=1.0, restore_vqvae="", sr=SR,
                                    vqvae_reverse_decoder_dilation=True, **v))
    vqvae = make_vqvae(vq_hps, "cpu")
    reinit(vqvae, gen)
    pr_hps = setup_hparams("", dict(level=2, labels=True, restore_prior="", fp16_params=True,
                                    attn_order=2, merged_decoder=True, init_scale=0.1, sr=SR,
                                    max_bow_genre_size=5, n_tokens=0, use_tokens=False, **p))
    prior = make_prior(pr_hps, vqvae, "cpu")
    reinit(prior, gen)
    vqvae.eval()
    prior.eval()

    # Audio: a seeded mix of sines and noise, peak-normalised as LLark's load_audio_from_file does.
    rng = np.random.default_rng(spec["seed"])
    n = spec["audio_len"]
    t = np.arange(n) / SR
    audio_raw = (0.6 * np.sin(2 * np.pi * rng.uniform(100, 900) * t)
                 + 0.3 * np.sin(2 * np.pi * rng.uniform(900, 4000) * t)
                 + 0.2 * rng.standard_normal(n)).astype(np.float32)
    audio = audio_raw.copy()
    audio /= np.abs(audio).max()
    latent_len = math.floor(n_ctx * n / sample_length)
    if len(audio) < sample_length:
        audio = np.pad(audio, (0, sample_length - len(audio)))
    x = torch.from_numpy(audio[:sample_length][None, :, None].copy())

    with torch.no_grad():
        xin = vqvae.preprocess(x)
        level_outs = vqvae.encoders[2](xin)
        e = level_outs[-1]
        bottleneck = vqvae.bottleneck.level_blocks[2]
        # Codebook: encoder outputs plus noise, redrawn until every token's top-2 gap is clear.
        flat = e.permute(0, 2, 1).reshape(-1, e.shape[1])
        for _ in range(200):
            idx = torch.randint(0, flat.shape[0], (bottleneck.k_bins,), generator=gen)
            bottleneck.k.copy_(flat[idx] + 0.3 * flat.std() * torch.randn(bottleneck.k.shape, generator=gen))
            xq = bottleneck.preprocess(e)[0]
            k_w = bottleneck.k.t()
            dist = (xq ** 2).sum(-1, keepdim=True) - 2 * xq @ k_w + (k_w ** 2).sum(0, keepdim=True)
            top2 = dist.topk(2, dim=-1, largest=False).values
            gap = top2[:, 1] - top2[:, 0]
            if (gap >= 5e-3).all() and (gap / top2[:, 1].abs().clamp_min(1e-12) >= 1e-4).all():
                break
        else:
            raise SystemExit(f"{name}: no codebook with a clear top-2 gap")
        zs = vqvae.encode(x)
        codes = zs[-1]

        labels = torch.tensor([spec["labels"]], dtype=torch.long)
        y = prior.get_y({"y": labels, "info": [{}]}, 0)
        x_cond, y_cond, _ = prior.get_cond(None, y)
        emb = prior.y_emb
        total, start = y[:, 0:1].float(), y[:, 1:2].float()
        end = (y[:, 1:2] + y[:, 2:3]).float()
        bins = {}
        for key, module, a, b in (("tl_bin", emb.total_length_emb, total, None),
                                  ("abs_bins", emb.absolute_pos_emb, start, end),
                                  ("rel_bins", emb.relative_pos_emb, start / total, end / total)):
            captured = {}
            handle = module.emb.register_forward_pre_hook(lambda m, inp: captured.setdefault("b", inp[0]))
            module(a, b)
            handle.remove()
            bins[key] = captured["b"].reshape(-1)

        captured = {}
        transformer = prior.prior.transformer
        hooks = [transformer.register_forward_pre_hook(lambda m, inp: captured.__setitem__("h0", inp[0].clone()))]
        for i, layer in enumerate(transformer._attn_mods):
            hooks.append(layer.register_forward_hook(
                lambda m, inp, out, i=i: captured.__setitem__(f"layer_{i}", out.clone())))
        prior.prior.only_encode = True
        acts = prior.prior.forward(codes[:, :n_ctx], x_cond=x_cond[:1, :n_ctx], y_cond=y_cond[:1],
                                   encoder_kv=None, fp16=False)
        for h in hooks:
            h.remove()
        acts = acts.squeeze(0).float()
        acts_truncated = acts[:latent_len]
        frame_len = math.floor((n_ctx / (sample_length / SR)) / 10)
        pooled = torch.nn.AvgPool1d(frame_len, stride=frame_len)(acts_truncated.t()[None])[0].t()

    out.mkdir(parents=True, exist_ok=True)
    reference = {
        "audio_raw": torch.from_numpy(audio_raw),
        "audio": torch.from_numpy(audio),
        "audio_len": torch.tensor([n]),
        "latent_len": torch.tensor([latent_len]),
        "frame_len": torch.tensor([frame_len]),
        "enc2_lb0": level_outs[0][0],
        "enc2_lb1": level_outs[1][0],
        "e": e[0],
        "codes": codes[0].long(),
        "code_gap": gap.float(),
        "tl_bin": bins["tl_bin"].long(),
        "abs_bins": bins["abs_bins"].long(),
        "rel_bins": bins["rel_bins"].long(),
        "y_cond": y_cond[0].float(),
        "x_cond": x_cond[0].float(),
        "h0": captured["h0"][0].float(),
        "acts": acts,
        "acts_truncated": acts_truncated,
        "pooled": pooled,
    }
    for i in range(p["prior_depth"]):
        reference[f"layer_{i}"] = captured[f"layer_{i}"][0].float()
    save_file({k: v.contiguous().clone() for k, v in reference.items()}, str(out / "reference.safetensors"))
    # Encoders and codebooks of every level (the loader must skip levels 0 and 1); decoders left out.
    vq_state = {k: v.contiguous() for k, v in vqvae.state_dict().items() if not k.startswith("decoders.")}
    save_file(vq_state, str(out / "vqvae.safetensors"))
    prior_state = {k: v.float().contiguous() for k, v in prior.state_dict().items()}
    save_file(prior_state, str(out / "prior.safetensors"))
    config = {
        "vqvae": {**{k: list(x) if isinstance(x, tuple) else x for k, x in v.items()},
                  "levels": 3, "sample_length": sample_length, "sr": SR, "hop_length": hop},
        "prior": {"level": 2, "n_ctx": n_ctx, "width": p["prior_width"], "prior_depth": p["prior_depth"],
                  "heads": p["heads"], "blocks": p["blocks"], "block_ctx": n_ctx // p["blocks"],
                  "m_attn": p["m_attn"], "m_mlp": p["m_mlp"], "attn_order": 2, "bins": v["l_bins"],
                  "y_bins": list(p["y_bins"]), "t_bins": p["t_bins"], "max_bow_genre_size": 5, "sr": SR,
                  "min_duration": p["min_duration"], "max_duration": p["max_duration"],
                  "sample_length": sample_length, "raw_to_tokens": hop, "merged_decoder": True,
                  "layer_attn_funcs": [[1, 2, 3][d % 3] for d in range(p["prior_depth"])]},
        "labels": [int(x) for x in y[0]],
        "pool_fps": 10,
        "sample_rate": SR,
        "provenance": {"jukebox_commit": "08efbbc1d4ed1a3cef96e08a931944c8b4d63bb3",
                       "torch": torch.__version__, "seed": spec["seed"],
                       "generator": "tools/reference/jukebox_fixtures.py", "device": "cpu",
                       "dtype": "float32"},
    }
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    print(f"{name}: codes {codes.shape[-1]}, latent_len {latent_len}, min code gap {gap.min():.3e}, "
          f"acts rms {acts.pow(2).mean().sqrt():.3f} -> {out}")


if __name__ == "__main__":
    main()
