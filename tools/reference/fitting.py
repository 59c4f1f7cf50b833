"""Shared by the fit scripts of the lite encoder's fitted parts: how development clips are
grouped and split into cross-validation folds."""

import numpy as np

FOLDS = 4


def group_of(row):
    """The group of a clip of the clip_features output: composed clips are independent pieces;
    corpus clips group by the piece they come from, so no piece is on both sides of a fold."""
    return row["id"] if row["source"] == "composed" else row["source"]


def piece_folds(groups):
    """The fold (0..FOLDS) of each clip, by group, drawn with a fixed seed."""
    rng = np.random.default_rng(0)
    unique = sorted(set(groups))
    fold_of = {g: i % FOLDS for i, g in enumerate(rng.permutation(unique))}
    return np.array([fold_of[g] for g in groups])
