"""Writes small `.npy` files with NumPy, and the values NumPy reads back as float32, for the
`.npy` reader tests of `llark-data`.

Run: .venv/bin/python tools/reference/npy_fixtures.py llark-data/tests/fixtures/npy
"""

import json
import os
import sys

import numpy as np


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1234)
    base = rng.standard_normal((3, 4)) * 10.0
    expected = {}
    cases = {
        "f16_3x4": base.astype("<f2"),
        "f32_3x4": base.astype("<f4"),
        "f64_3x4": base.astype("<f8"),
        "f32_1x3x4": base.astype("<f4")[None],
        "f32_big_endian": base.astype(">f4"),
        "f32_fortran": np.asfortranarray(base.astype("<f4")),
        "i32_3x4": base.astype("<i4"),
    }
    for name, arr in cases.items():
        np.save(os.path.join(out, name + ".npy"), arr)
        expected[name] = {
            "shape": list(arr.shape),
            "values": [float(v) for v in np.ascontiguousarray(arr).astype(np.float32).ravel()],
        }
    # Format version 2.0 (4-byte header length), written explicitly.
    with open(os.path.join(out, "f32_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, base.astype("<f4"), version=(2, 0))
    expected["f32_v2"] = expected["f32_3x4"]
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
