"""Golden fixtures for the LoRA adapters of `llark-lm`, computed with Hugging Face PEFT.

Versions used: torch 2.9.0, transformers 4.44.2, peft 0.21.2, safetensors 0.8.0, numpy 2.4.6
(CPU, f32). Run from the repository root (a few seconds):

    python3 -m venv /tmp/venv-ref
    /tmp/venv-ref/bin/pip install torch==2.9.0 transformers==4.44.2 peft==0.21.2 safetensors numpy
    /tmp/venv-ref/bin/python tools/reference/lora_fixtures.py [OUT_DIR]

OUT_DIR defaults to `llark-lm/tests/fixtures/lora-peft`. It holds a tiny random Llama in the
Hugging Face layout (`config.json`, `model.safetensors`, as `llama_fixtures.py` writes them) and
two adapters written by PEFT's `save_pretrained` (`adapter_config.json` +
`adapter_model.safetensors`):

- `adapter-all/`: r 4, lora_alpha 8 on all seven projections (q, k, v, o, gate, up, down) of both
  layers, lora_dropout 0, default initialisation (A kaiming-uniform, B zeros) and then B set to
  random values so that the adapter changes the output and A receives gradients;
- `adapter-qv/`: r 2, lora_alpha 16 on q_proj and v_proj of layer 1 only
  (`layers_to_transform`), `init_lora_weights="gaussian"`, B random as well.

`reference.safetensors` holds `input_ids` [B, T] i64 and `labels` [B, T] i64 (-100 ignored), and
for each adapter `{name}.logits` [B, T, V] f32 (the PEFT model's forward pass), `{name}.loss` [1]
f32 (transformers' causal-LM loss of `labels`) and `{name}.grad.{key}` for every tensor `key` of
the adapter file: the gradient of that loss with respect to the LoRA weight, with the base frozen
(as `get_peft_model` leaves it). `base.logits` are the logits without adapters. The script also
checks that `merge_and_unload` reproduces the adapter's logits.

Checking files written by llark-lm with PEFT: the Rust test `llark-lm/tests/lora.rs` writes the
adapters it saves (after loading this fixture) into the directory named by `LLARK_LORA_EXPORT`;

    LLARK_LORA_EXPORT=/tmp/lora-export cargo test -p llark-lm --test lora
    /tmp/venv-ref/bin/python tools/reference/lora_fixtures.py --check /tmp/lora-export

loads each of them with `PeftModel.from_pretrained` on this fixture's base model and compares the
logits with the reference, or for adapters created by llark-lm (`llark-random/`, random A and B
on k/o/up/down of layer 0) with the logits llark-lm computed (`llark_logits.safetensors`); exit
status 1 beyond 1e-5.
"""

import json
import os
import shutil
import sys

import torch
import torch.distributed.tensor  # noqa: F401  (peft 0.21.2 reads it without importing it)
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_fixtures import base_config as llama_base_config  # noqa: E402

DEFAULT_OUT = "llark-lm/tests/fixtures/lora-peft"
SEED = 21
BATCH, SEQ = 2, 12
TOLERANCE = 1e-5

ADAPTERS = {
    "adapter-all": dict(
        r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                        "down_proj"],
    ),
    "adapter-qv": dict(
        r=2,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules=["q_proj", "v_proj"],
        layers_to_transform=[1],
        init_lora_weights="gaussian",
    ),
}


def base_config():
    # llama_fixtures.py's conventions (eager attention, a large init std so that attention is
    # peaked), at a smaller size.
    return LlamaConfig(
        **llama_base_config(
            hidden_size=32,
            intermediate_size=64,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
    )


def build_base(seed):
    torch.manual_seed(seed)
    model = LlamaForCausalLM(base_config()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
    return model


def inputs(gen):
    ids = torch.randint(3, 256, (BATCH, SEQ), generator=gen)
    labels = ids.clone()
    labels[:, :4] = -100
    labels[1, 9:] = -100
    return ids, labels


def forward_and_grads(peft_model, ids, labels):
    peft_model.train()  # dropout is 0: train mode only enables gradients of the adapters
    peft_model.zero_grad()
    out = peft_model(input_ids=ids, labels=labels)
    out.loss.backward()
    grads = {}
    for name, p in peft_model.named_parameters():
        if p.requires_grad:
            key = name.replace(".default", "")
            grads[key] = p.grad.detach().clone()
    return out.logits.detach().to(torch.float32).contiguous(), out.loss.detach(), grads


def make(out_root):
    os.makedirs(out_root, exist_ok=True)
    for entry in os.listdir(out_root):
        path = os.path.join(out_root, entry)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    torch.set_num_threads(1)
    base = build_base(SEED)
    base.save_pretrained(out_root, safe_serialization=True)
    gen_config = os.path.join(out_root, "generation_config.json")
    if os.path.exists(gen_config):
        os.remove(gen_config)
    gen = torch.Generator().manual_seed(SEED + 1)
    ids, labels = inputs(gen)
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits
    ref = {
        "input_ids": ids.to(torch.int64),
        "labels": labels.to(torch.int64),
        "base.logits": base_logits.contiguous(),
    }
    for name, options in ADAPTERS.items():
        model = get_peft_model(build_base(SEED), LoraConfig(task_type="CAUSAL_LM", **options))
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if "lora_B" in pname:
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))
        logits, loss, grads = forward_and_grads(model, ids, labels)
        model.save_pretrained(os.path.join(out_root, name))
        os.remove(os.path.join(out_root, name, "README.md"))  # PEFT's model card
        saved = load_file(os.path.join(out_root, name, "adapter_model.safetensors"))
        if set(saved) != set(grads):
            raise SystemExit(f"{name}: gradient names {sorted(grads)} != file {sorted(saved)}")
        ref[f"{name}.logits"] = logits
        ref[f"{name}.loss"] = loss.reshape(1).to(torch.float32)
        for key, g in grads.items():
            ref[f"{name}.grad.{key}"] = g.contiguous()
        merged = model.merge_and_unload().eval()
        with torch.no_grad():
            merged_logits = merged(input_ids=ids).logits
        err = (merged_logits - logits).abs().max().item()
        print(f"{name}: {len(saved)} adapter tensors, loss {loss.item():.6f}, "
              f"peft merge_and_unload max abs logit difference {err:.2e}")
        if err > TOLERANCE:
            raise SystemExit(f"{name}: merged logits differ by {err}")
    save_file(ref, os.path.join(out_root, "reference.safetensors"))
    with open(os.path.join(out_root, "config.json")) as f:
        config = json.load(f)
    config["torch_dtype"] = "float32"
    with open(os.path.join(out_root, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def check(export_dir, fixture=DEFAULT_OUT):
    """Loads every adapter directory under export_dir with PEFT and compares its logits."""
    torch.set_num_threads(1)
    ref = load_file(os.path.join(fixture, "reference.safetensors"))
    worst, failed = 0.0, False
    for name in sorted(os.listdir(export_dir)):
        path = os.path.join(export_dir, name)
        if not os.path.isfile(os.path.join(path, "adapter_config.json")):
            continue
        base = LlamaForCausalLM.from_pretrained(fixture, attn_implementation="eager").eval()
        model = PeftModel.from_pretrained(base, path).eval()
        with torch.no_grad():
            logits = model(input_ids=ref["input_ids"]).logits
        own = os.path.join(path, "llark_logits.safetensors")
        expected = load_file(own)["logits"] if os.path.exists(own) else ref[f"{name}.logits"]
        err = (logits - expected).abs().max().item()
        worst = max(worst, err)
        failed |= err > TOLERANCE
        print(f"{name}: PEFT loaded the adapter written by llark-lm; max abs logit error {err:.2e}")
    print(f"max_abs_err={worst:.3e}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    make(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
