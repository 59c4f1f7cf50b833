"""Golden fixtures for the `llark-lm` Llama decoder, computed with Hugging Face transformers.

Run from the repository root (CPU, a few seconds):

    .venv/bin/python tools/reference/llama_fixtures.py [OUT_DIR] [--only=trained-tiny]

OUT_DIR defaults to `llark-lm/tests/fixtures`. Requires torch 2.9.0, transformers 4.44.2,
safetensors and numpy. Each sub-directory is a tiny random Llama in the Hugging Face layout
(`config.json`, `model.safetensors` or shards + `model.safetensors.index.json`) plus
`reference.safetensors` with:

- `input_ids` [B, T] i64 and `logits` [B, T, V] f32 (the forward pass of transformers, in f32);
- `greedy_ids` [B, T + N] i64: `generate(do_sample=False, max_new_tokens=N)` without EOS stop;
- optional `attention_mask` [B, T] i64: the batch is left-padded; logits are compared only where the
  mask is 1, positions are `cumsum(mask) - 1` (as `generate` computes them), and `greedy_ids`
  comes from batched left-padded generation;
- optional `greedy_ids_repetition_penalty` [B, T + N] i64 with `repetition_penalty` [1] f32: greedy
  generation with transformers' repetition penalty;
- optional `loss_input_ids`, `loss_attention_mask`, `loss_labels` [B, T] i64 and `loss` [1] f32: a
  right-padded training batch with labels (-100 = ignored) and the causal-LM loss of transformers.

Weights are initialised with a larger standard deviation than the default 0.02 so that attention
is peaked and any error in positions, masking or rotary layout changes the logits visibly.
Weights stored in bf16/f16 are rounded first, so the f32 reference uses exactly the stored values.
"""

import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

PROMPT_LEN = 12
NEW_TOKENS = 8


def base_config(**overrides):
    cfg = dict(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        initializer_range=0.15,
        rope_theta=10000.0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    cfg.update(overrides)
    return cfg


def build_model(seed, storage_dtype, cfg):
    torch.manual_seed(seed)
    config = LlamaConfig(**cfg)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        # Norm weights and biases default to ones/zeros; randomise them so that they are checked too.
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            if storage_dtype != torch.float32:
                p.copy_(p.to(storage_dtype).to(torch.float32))
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def save_model(model, out, storage_dtype, shard_size):
    model_to_save = model.to(storage_dtype) if storage_dtype != torch.float32 else model
    kwargs = {"safe_serialization": True}
    if shard_size:
        kwargs["max_shard_size"] = shard_size
    model_to_save.save_pretrained(out, **kwargs)
    model.to(torch.float32)
    # save_pretrained also writes generation_config.json; the fixture format does not need it.
    gen = os.path.join(out, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)


def reference(model, input_ids, attention_mask=None):
    out = {}
    with torch.no_grad():
        if attention_mask is None:
            logits = model(input_ids=input_ids).logits
            greedy = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                do_sample=False,
                max_new_tokens=NEW_TOKENS,
            )
        else:
            position_ids = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
            logits = model(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
            ).logits
            greedy = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                do_sample=False,
                max_new_tokens=NEW_TOKENS,
            )
            out["attention_mask"] = attention_mask.to(torch.int64)
    out["input_ids"] = input_ids.to(torch.int64)
    out["logits"] = logits.to(torch.float32).contiguous()
    out["greedy_ids"] = greedy.to(torch.int64)
    return out


def loss_case(model, vocab, gen):
    ids = torch.randint(3, vocab, (2, PROMPT_LEN), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # right padding of the second example
    ids[1, 9:] = 0
    labels = ids.clone()
    labels[:, :4] = -100  # prompt tokens are not trained on
    labels[mask == 0] = -100
    with torch.no_grad():
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    return {
        "loss_input_ids": ids.to(torch.int64),
        "loss_attention_mask": mask.to(torch.int64),
        "loss_labels": labels.to(torch.int64),
        "loss": loss.reshape(1).to(torch.float32),
    }


def repetition_case(model, input_ids, penalty):
    with torch.no_grad():
        ids = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            do_sample=False,
            max_new_tokens=NEW_TOKENS,
            repetition_penalty=penalty,
        )
    return {
        "greedy_ids_repetition_penalty": ids.to(torch.int64),
        "repetition_penalty": torch.tensor([penalty], dtype=torch.float32),
    }


def train_model(seed, cfg, steps=400, batch=16, length=32):
    """A tiny Llama trained until its next-token distributions are peaked, as a trained model's
    are (random weights give near-ties, where any rounding flips the top token): sequences follow
    t[i+1] = (5 t[i] + 3) mod (V - 3) + 3 from random starts, AdamW, lr 3e-3."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**cfg))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    vocab = cfg["vocab_size"]
    model.train()
    for _ in range(steps):
        seq = [torch.randint(3, vocab, (batch, 1), generator=gen)]
        for _ in range(length - 1):
            seq.append((seq[-1] * 5 + 3) % (vocab - 3) + 3)
        ids = torch.cat(seq, 1)
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"trained: final loss {loss.item():.4f}")
    model.eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def make_fixture(out_root, name, seed, cfg, storage_dtype=torch.float32, shard_size=None,
                 batch=2, left_pad=None, with_loss=False, repetition_penalty=None, model=None):
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    if model is None:
        model = build_model(seed, storage_dtype, cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    vocab = cfg["vocab_size"]
    ids = torch.randint(3, vocab, (batch, PROMPT_LEN), generator=gen)
    mask = None
    if left_pad is not None:
        mask = torch.ones_like(ids)
        for row, pad in enumerate(left_pad):
            mask[row, :pad] = 0
            ids[row, :pad] = 0
    ref = reference(model, ids, mask)
    if with_loss:
        ref.update(loss_case(model, vocab, gen))
    if repetition_penalty is not None:
        ref.update(repetition_case(model, ids, repetition_penalty))
    save_model(model, out, storage_dtype, shard_size)
    save_file(ref, os.path.join(out, "reference.safetensors"))
    # Keep the dtype the weights are stored in visible in config.json (as transformers does).
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    config["torch_dtype"] = str(storage_dtype).replace("torch.", "")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    print(f"{name}: logits {tuple(ref['logits'].shape)}, files {sorted(os.listdir(out))}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--only=")]
    only = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")]
    out_root = args[0] if args else "llark-lm/tests/fixtures"
    torch.set_num_threads(1)
    if only == ["trained-tiny"] or not only:
        # Trained weights: peaked next-token distributions, for packed-weight agreement checks.
        cfg = base_config(initializer_range=0.02)
        make_fixture(out_root, "trained-tiny", 16, cfg, model=train_model(16, cfg), with_loss=True)
    if only:
        return
    # Grouped-query attention, Llama-3 style rope_theta, batch of 3, a loss case.
    make_fixture(out_root, "gqa-theta", 11,
                 base_config(num_key_value_heads=2, rope_theta=500000.0, vocab_size=320),
                 batch=3, with_loss=True, repetition_penalty=3.0)
    # bf16 storage, sharded weights with an index.
    make_fixture(out_root, "sharded-bf16", 12,
                 base_config(hidden_size=48, intermediate_size=128, num_attention_heads=6,
                             num_key_value_heads=3),
                 storage_dtype=torch.bfloat16, shard_size="60KB")
    # Linear RoPE scaling, f16 storage.
    make_fixture(out_root, "rope-linear-f16", 13,
                 base_config(rope_scaling={"type": "linear", "factor": 4.0}, vocab_size=300),
                 storage_dtype=torch.float16)
    # Llama-3 RoPE scaling, tied embeddings, biases, EOS list.
    make_fixture(out_root, "rope-llama3-tied", 14,
                 base_config(
                     rope_theta=500000.0,
                     rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 16},
                     tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
                     eos_token_id=[2, 3], num_key_value_heads=1, vocab_size=512),
                 with_loss=True)
    # Left-padded generation batch, plus extra unknown config fields as LLark writes them.
    make_fixture(out_root, "left-pad", 15,
                 base_config(num_key_value_heads=2, mm_hidden_size=96),
                 batch=3, left_pad=[0, 3, 7])


if __name__ == "__main__":
    main()
