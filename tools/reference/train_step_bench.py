"""The training step of `benches/train_step.rs` in PyTorch, for the throughput ratio.

Run from the repository root with the reference environment:

    .venv/bin/python tools/reference/train_step_bench.py [--threads N]

Same sizes as the Rust bench: a Llama (transformers 4.44.2 `LlamaForCausalLM`, hidden 256, MLP 688,
4 layers, 8 heads, vocabulary 1024) with a linear projector (64 -> 256) whose outputs replace the
16 audio-patch embeddings, batch 4 x 128 tokens, f32, AdamW (lr 1e-4, eps 1e-8, weight decay 0),
LM and projector trained. Prints tokens per second (median and best of 8 timed steps after 2
warmup steps).
"""

import argparse
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

BATCH, SEQ, FRAMES, WIDTH, VOCAB = 4, 128, 16, 64, 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                         num_attention_heads=8, max_position_embeddings=512, attn_implementation="eager")
    lm = LlamaForCausalLM(config)
    projector = torch.nn.Linear(WIDTH, 256)
    params = list(lm.parameters()) + list(projector.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ids = torch.zeros(BATCH, SEQ, dtype=torch.long)
    for b in range(BATCH):
        row = [1, 1021] + [1023] * FRAMES + [1022]
        while len(row) < SEQ:
            row.append(3 + (len(row) * 31 + b * 17) % 1000)
        ids[b] = torch.tensor(row)
    labels = ids.clone()
    audio = torch.tensor([((i % 97) / 97.0) - 0.5 for i in range(BATCH * FRAMES * WIDTH)]).reshape(BATCH, FRAMES, WIDTH)
    times = []
    for i in range(10):
        start = time.perf_counter()
        embeds = lm.model.embed_tokens(ids)
        embeds = torch.cat([embeds[:, :2], projector(audio), embeds[:, 2 + FRAMES:]], dim=1)
        loss = lm(inputs_embeds=embeds, attention_mask=torch.ones_like(ids), labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    tokens = BATCH * SEQ
    median = sorted(times)[len(times) // 2]
    print(f"train_step (torch {torch.__version__}, {torch.get_num_threads()} threads): median {tokens / median:.0f} "
          f"tokens/s ({median * 1e3:.1f} ms/step), best {tokens / min(times):.0f} tokens/s")


if __name__ == "__main__":
    main()
