#!/usr/bin/python3
"""Writes a small `data.files` dataset from scikit-learn's 8x8 digits (Debian's python3-sklearn ships the
CSV): modality `image` [1, 8, 8] and a second, noisier view `pixels` [64]; digit 9 held out as OOD in test.
Usage: /usr/bin/python3 examples/files/make_digits.py OUT_DIR   (then: mmdebias run examples/files/digits.yaml)"""
import os, sys
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "runs/digits-files"
rows = np.loadtxt("/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz", delimiter=",")
x, y = (rows[:, :64] / 16.0).astype(np.float32), rows[:, 64].astype(np.int64)
rng = np.random.default_rng(0)
order = rng.permutation(len(y))
x, y = x[order], y[order]
noisy = (x + rng.normal(0.0, 0.6, x.shape)).astype(np.float32)  # the weak modality
cut = int(0.7 * len(y))
for split, idx in (("train", np.arange(cut)), ("test", np.arange(cut, len(y)))):
    if split == "train":
        idx = idx[y[idx] != 9]  # digit 9 never seen in training
    os.makedirs(f"{out}/{split}", exist_ok=True)
    # The two lines a user writes per array: np.save(path, array).
    np.save(f"{out}/{split}/image.npy", x[idx].reshape(-1, 1, 8, 8))
    np.save(f"{out}/{split}/pixels.npy", noisy[idx])
    ood = y[idx] == 9
    np.save(f"{out}/{split}/label.npy", np.where(ood, -1, y[idx]))
    np.save(f"{out}/{split}/ood.npy", ood)
print(f"wrote {out}/train and {out}/test")
