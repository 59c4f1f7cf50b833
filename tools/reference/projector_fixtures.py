"""Golden vectors for llark-projector: pooling (LLark's `windowed_average` semantics) and projectors.

Run from the repository root:
    .venv/bin/python tools/reference/projector_fixtures.py [SHARED_JUKEBOX_FIXTURE_DIR]

Writes llark-projector/tests/fixtures/pooling.safetensors with, per case `c{i}`:
  c{i}.acts [T, D] f32, c{i}.pooled [F, D] f32, c{i}.fps [1] i64.
Pooling is torch's AvgPool1d(kernel=stride=floor(344.53125/fps), ceil_mode=False) over time, as in
LLark's jukebox/main.py; fps = 0 is one mean over time (kept as a [1, D] row).
The first cases are `acts_truncated`/`pooled` of the Jukebox golden fixtures when their directory
is given (default ../shared/fixtures), so the pooling is also checked against the original outputs.

Also writes llark-projector/tests/fixtures/projectors.safetensors: for LLark's projector
(`nn.Linear(mm_hidden, d_model)`) and LLaVA's `mlp2x_gelu` (`Linear, GELU, Linear`), the weights
under their checkpoint names (`linear.model.mm_projector.weight`, ... and
`mlp2x_gelu.model.mm_projector.0.weight`, ...), an input `{kind}.input` [2, 5, mm_hidden] and the
output `{kind}.output` [2, 5, d_model].
"""

import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ACTS_SAMPLE_RATE = 344.53125
OUT = Path("llark-projector/tests/fixtures/pooling.safetensors")


def pool(acts: torch.Tensor, fps: int) -> torch.Tensor:
    if fps == 0:
        return acts.mean(dim=0, keepdim=True)
    frame_len = math.floor(ACTS_SAMPLE_RATE / fps)
    pooler = torch.nn.AvgPool1d(kernel_size=frame_len, stride=frame_len, ceil_mode=False)
    return pooler(acts.T.unsqueeze(0)).squeeze(0).T.contiguous()


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/fixtures")
    tensors = {}
    case = 0
    for name in ("jukebox-tiny", "jukebox-tiny-short"):
        ref = shared / name / "reference.safetensors"
        if not ref.exists():
            continue
        golden = load_file(str(ref))
        acts = golden["acts_truncated"].float()
        ours = pool(acts, 10)
        assert torch.equal(ours, golden["pooled"]), f"{name}: torch pooling differs from the fixture"
        tensors[f"c{case}.acts"] = acts
        tensors[f"c{case}.pooled"] = golden["pooled"].float()
        tensors[f"c{case}.fps"] = torch.tensor([10], dtype=torch.int64)
        case += 1
    gen = torch.Generator().manual_seed(7)
    for frames, width, fps in [(34, 4, 10), (100, 6, 10), (257, 5, 5), (345, 3, 1), (250, 4, 3),
                               (90, 4, 25), (41, 7, 0), (1000, 2, 10)]:
        acts = torch.randn(frames, width, generator=gen) * 3.0 + 1.0
        tensors[f"c{case}.acts"] = acts
        tensors[f"c{case}.pooled"] = pool(acts, fps)
        tensors[f"c{case}.fps"] = torch.tensor([fps], dtype=torch.int64)
        case += 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(OUT))
    print(f"wrote {case} cases to {OUT}")
    write_projectors(OUT.parent / "projectors.safetensors")


def write_projectors(path: Path) -> None:
    torch.manual_seed(11)
    mm_hidden, d_model = 12, 8
    kinds = {
        "linear": torch.nn.Linear(mm_hidden, d_model),
        "mlp2x_gelu": torch.nn.Sequential(
            torch.nn.Linear(mm_hidden, d_model), torch.nn.GELU(), torch.nn.Linear(d_model, d_model)
        ),
    }
    tensors = {}
    for kind, module in kinds.items():
        x = torch.randn(2, 5, mm_hidden) * 2.0
        with torch.no_grad():
            y = module(x)
        for name, value in module.state_dict().items():
            tensors[f"{kind}.model.mm_projector.{name}"] = value.contiguous()
        tensors[f"{kind}.input"] = x
        tensors[f"{kind}.output"] = y
    save_file(tensors, str(path))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
