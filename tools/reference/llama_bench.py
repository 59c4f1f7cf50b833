"""transformers (PyTorch, CPU, f32) on the configuration and inputs of the `llark-lm` criterion bench.

Run from the repository root:

    .venv/bin/python tools/reference/llama_bench.py [--threads N] [--repeats R]

Model: Llama with hidden 768, 14 layers, 12 heads, intermediate 2048, vocabulary 32,004 (about 148M
parameters), random weights (std 0.02). Prefill: one forward pass over 256 tokens with a cache,
logits of every position. Decode: 64 single-token steps after a 256-token prefix and after a
768-token prefix (the prefilled cache is copied before each timed run). Token ids are `(i * 7919 + 13) % vocab`, as in the bench.
Prints the median time and tokens/s of each.
"""

import argparse
import copy
import statistics
import time

import torch
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM

PREFILL = 256
DECODE = 64


def token_ids(n, offset, vocab):
    return torch.tensor([[((i * 7919 + 13) % vocab) for i in range(offset, offset + n)]])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = LlamaConfig(
        vocab_size=32004, hidden_size=768, intermediate_size=2048, num_hidden_layers=14,
        num_attention_heads=12, num_key_value_heads=12, max_position_embeddings=1024,
        rms_norm_eps=1e-5, initializer_range=0.02, attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    params = sum(p.numel() for p in model.parameters())
    prompt = token_ids(PREFILL, 0, config.vocab_size)
    print(f"parameters: {params / 1e6:.1f}M, torch threads: {torch.get_num_threads()}")

    with torch.inference_mode():
        def prefill():
            cache = DynamicCache()
            out = model(input_ids=prompt, past_key_values=cache, use_cache=True)
            return out.logits, out.past_key_values

        prefill()  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            prefill()
            times.append(time.perf_counter() - start)
        t = statistics.median(times)
        print(f"prefill_256: {t * 1e3:.1f} ms, {PREFILL / t:.1f} tokens/s")

        for prefix in (PREFILL, 768):
            ids = token_ids(prefix, 0, config.vocab_size)
            prefilled = model(input_ids=ids, past_key_values=DynamicCache(), use_cache=True).past_key_values
            decode_ids = token_ids(DECODE, prefix, config.vocab_size)
            times = []
            for r in range(args.repeats + 1):
                cache = copy.deepcopy(prefilled)
                start = time.perf_counter()
                for i in range(DECODE):
                    out = model(input_ids=decode_ids[:, i : i + 1], past_key_values=cache, use_cache=True)
                    cache = out.past_key_values
                    out.logits.numpy()
                if r > 0:  # the first run is a warm-up
                    times.append(time.perf_counter() - start)
            t = statistics.median(times)
            name = "decode_64" if prefix == PREFILL else f"decode_64_after_{prefix}"
            print(f"{name}: {t * 1e3:.1f} ms, {DECODE / t:.1f} tokens/s")

if __name__ == "__main__":
    main()
