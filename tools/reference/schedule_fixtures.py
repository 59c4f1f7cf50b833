"""Golden learning-rate schedules and AdamW updates for `llark-train`.

Run from the repository root with the reference environment:

    .venv/bin/python tools/reference/schedule_fixtures.py

Writes `llark-train/tests/fixtures/schedules.json` (transformers 4.44.2's
`get_cosine_schedule_with_warmup`, `get_linear_schedule_with_warmup`,
`get_constant_schedule_with_warmup` and `get_constant_schedule`, with the warmup length chosen as
`TrainingArguments.get_warmup_steps` does) and `llark-train/tests/fixtures/adamw.json`
(torch.optim.AdamW on a few parameters over several steps with given gradients).
"""

import json
import math
import os

import torch
from transformers import (
    get_constant_schedule,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "llark-train", "tests", "fixtures")


def warmup_steps(total, ratio, steps):
    # TrainingArguments.get_warmup_steps
    return steps if steps > 0 else math.ceil(total * ratio)


def lrs(kind, base_lr, total, warmup, steps):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    if kind == "cosine":
        sched = get_cosine_schedule_with_warmup(opt, warmup, total)
    elif kind == "linear":
        sched = get_linear_schedule_with_warmup(opt, warmup, total)
    elif kind == "constant":
        sched = get_constant_schedule_with_warmup(opt, warmup) if warmup > 0 else get_constant_schedule(opt)
    else:
        raise ValueError(kind)
    wanted = set(steps)
    out = []
    for step in range(max(steps) + 1):
        if step in wanted:
            out.append([step, sched.get_last_lr()[0]])
        opt.step()
        sched.step()
    return out


def schedules():
    cases = []
    for kind, base_lr, total, ratio, wsteps in [
        ("cosine", 5e-5, 100_000, 0.03, 0),  # LLark
        ("cosine", 5e-5, 1000, 0.03, 0),
        ("cosine", 1e-3, 37, 0.1, 0),
        ("cosine", 2e-4, 50, 0.0, 7),
        ("cosine", 1e-4, 10, 0.0, 0),
        ("linear", 5e-5, 200, 0.05, 0),
        ("linear", 1e-3, 40, 0.0, 3),
        ("constant", 1e-3, 30, 0.0, 4),
        ("constant", 3e-4, 20, 0.0, 0),
    ]:
        warmup = warmup_steps(total, ratio, wsteps)
        if total > 2000:
            steps = sorted(set(list(range(0, 40)) + list(range(2990, 3010)) + list(range(0, total + 1, 997))
                               + list(range(total - 20, total + 1))))
        else:
            steps = list(range(total + 1))
        cases.append({
            "kind": kind, "base_lr": base_lr, "total_steps": total, "warmup_ratio": ratio,
            "warmup_steps": wsteps, "resolved_warmup": warmup,
            "lrs": lrs(kind, base_lr, total, warmup, steps),
        })
    return cases


def adamw():
    cases = []
    for name, lr_list, betas, eps, wd in [
        ("torch-defaults", [1e-3] * 6, (0.9, 0.999), 1e-8, 0.01),
        ("llark-wd0-scheduled", [0.0, 1e-2, 2e-2, 1.5e-2, 5e-3, 1e-3], (0.9, 0.999), 1e-8, 0.0),
        ("other-betas", [3e-3] * 5, (0.8, 0.95), 1e-6, 0.1),
    ]:
        g = torch.Generator().manual_seed(len(name))
        params = {
            "a": torch.randn(3, 4, generator=g, dtype=torch.float64).float(),
            "b": torch.randn(5, generator=g, dtype=torch.float64).float(),
        }
        tparams = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
        opt = torch.optim.AdamW(list(tparams.values()), lr=lr_list[0], betas=betas, eps=eps,
                                weight_decay=wd, foreach=False)
        steps = []
        for lr in lr_list:
            for group in opt.param_groups:
                group["lr"] = lr
            grads = {k: (torch.randn(v.shape, generator=g) * 0.1).float() for k, v in params.items()}
            for k, p in tparams.items():
                p.grad = grads[k].clone()
            opt.step()
            steps.append({
                "lr": lr,
                "grads": {k: v.flatten().tolist() for k, v in grads.items()},
                "params": {k: p.detach().flatten().tolist() for k, p in tparams.items()},
            })
        cases.append({
            "name": name, "beta1": betas[0], "beta2": betas[1], "eps": eps, "weight_decay": wd,
            "shapes": {k: list(v.shape) for k, v in params.items()},
            "initial": {k: v.flatten().tolist() for k, v in params.items()},
            "steps": steps,
        })
    return cases


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "schedules.json"), "w") as f:
        json.dump({"transformers": __import__("transformers").__version__, "cases": schedules()}, f)
    with open(os.path.join(OUT, "adamw.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": adamw()}, f)
    print("wrote", OUT)
