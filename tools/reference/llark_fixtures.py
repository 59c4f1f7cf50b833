"""Golden fixtures for the multimodal `Llark` model (LLark's format in DESIGN.md).

Run from the repository root (CPU, a few seconds):

    .venv/bin/python tools/reference/llark_fixtures.py [OUT_DIR]

OUT_DIR defaults to `tests/fixtures/llark`. Each sub-directory holds a tiny random LLark:

- `config.json`: a Hugging Face LlamaConfig plus `mm_hidden_size`, `mm_projector_type` and
  `audio_start_token_id` / `audio_end_token_id` / `audio_patch_token_id`;
- `model.safetensors`: transformers' Llama weights plus the projector `model.mm_projector.*`
  (an `nn.Linear(mm_hidden, hidden)` as LLark, or LLaVA's `mlp2x_gelu`);
- `reference.safetensors`: `input_ids` [B, T] i64 (one `<audio_start>`, F `<audio_patch>` and one
  `<audio_end>` per clip), `audio_encodings` [B, F, mm_hidden] f32 (several clips per example are
  stored one after the other along F: `audio_encodings` [B, clips*F, mm_hidden]), `logits` [B, T, V],
  `greedy_ids` [B, T + N] (greedy generation from the spliced embeddings, no EOS stop), and a loss
  case on the same ids: `loss_input_ids`, `loss_attention_mask`, `loss_labels` [B, T] i64
  (-100 = ignored) with `loss` [1] f32, as in the Llama fixtures.

The splice is LLark's (`m2t/models/llamav2.py`): token embeddings, then the F rows after each
`<audio_start>` replaced by the projected frames; the token after them must be `<audio_end>`.
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

VOCAB = 260
PAD, PATCH, START, END = 256, 257, 258, 259  # LLark's order: [PAD], <audio_patch>, <audio_start>, <audio_end>
NEW_TOKENS = 6


def splice(model, projector, input_ids, clips):
    embeds = model.get_input_embeddings()(input_ids).clone()
    for b in range(input_ids.shape[0]):
        starts = (input_ids[b] == START).nonzero().flatten().tolist()
        assert len(starts) == len(clips[b])
        for start, clip in zip(starts, clips[b]):
            frames = clip.shape[0]
            assert input_ids[b, start + frames + 1].item() == END
            embeds[b, start + 1:start + 1 + frames] = projector(clip)
    return embeds


def text_ids(gen, length):
    return torch.randint(3, 250, (length,), generator=gen).tolist()


def make(out: Path, name: str, *, kind: str, clips_per_example: int, frames: int, batch: int,
         seed: int, **config_overrides):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    mm_hidden = 24
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        rms_norm_eps=1e-5, initializer_range=0.1, bos_token_id=1, eos_token_id=2,
        pad_token_id=PAD, tie_word_embeddings=False, **config_overrides)
    model = LlamaForCausalLM(config).eval()
    if kind == "linear":
        projector = torch.nn.Linear(mm_hidden, config.hidden_size)
    else:
        projector = torch.nn.Sequential(torch.nn.Linear(mm_hidden, config.hidden_size), torch.nn.GELU(),
                                        torch.nn.Linear(config.hidden_size, config.hidden_size))
    projector.eval()

    rows, clips = [], []
    for _ in range(batch):
        row, row_clips = [1] + text_ids(gen, 5), []
        for _ in range(clips_per_example):
            row += [START] + [PATCH] * frames + [END] + text_ids(gen, 3)
            row_clips.append(torch.randn(frames, mm_hidden, generator=gen) * 2.0)
        rows.append(row + text_ids(gen, 4))
        clips.append(row_clips)
    input_ids = torch.tensor(rows, dtype=torch.int64)

    labels = input_ids.clone()
    labels[:, :input_ids.shape[1] // 2] = -100
    labels[input_ids >= PAD] = -100

    with torch.no_grad():
        embeds = splice(model, projector, input_ids, clips)
        out_full = model(inputs_embeds=embeds, labels=labels)
        new = model.generate(inputs_embeds=embeds, attention_mask=torch.ones_like(input_ids),
                             max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                             eos_token_id=None, pad_token_id=PAD)
    greedy = torch.cat([input_ids, new[:, -NEW_TOKENS:]], dim=1)

    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    cfg = config.to_dict()
    cfg.update(mm_hidden_size=mm_hidden, mm_projector_type=kind, audio_start_token_id=START,
               audio_end_token_id=END, audio_patch_token_id=PATCH, architectures=["LlarkForCausalLM"])
    (target / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    for k, v in projector.state_dict().items():
        weights[f"model.mm_projector.{k}"] = v.contiguous()
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    audio = torch.stack([torch.cat(c, dim=0) for c in clips])
    save_file({
        "input_ids": input_ids,
        "audio_encodings": audio.contiguous(),
        "logits": out_full.logits.float().contiguous(),
        "greedy_ids": greedy.contiguous(),
        "loss_input_ids": input_ids.clone(),
        "loss_attention_mask": torch.ones_like(input_ids),
        "loss_labels": labels,
        "loss": out_full.loss.reshape(1).float(),
    }, str(target / "reference.safetensors"))
    print(f"{target}: ids {list(input_ids.shape)}, loss {out_full.loss.item():.6f}")


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/llark")
    make(out, "llark-tiny", kind="linear", clips_per_example=1, frames=5, batch=2, seed=1)
    make(out, "llark-tiny-two-clips", kind="linear", clips_per_example=2, frames=3, batch=1, seed=2,
         rope_theta=500000.0)
    make(out, "llark-tiny-mlp", kind="mlp2x_gelu", clips_per_example=1, frames=4, batch=2, seed=3)


if __name__ == "__main__":
    main()
