#!/usr/bin/python3
"""Writes a small data.files dataset for tests/plugins/test_data_files.cpp, the way a user would.

Usage: /usr/bin/python3 write_files_dataset.py OUT

Writes OUT/data/<split>/*.npy with numpy.save (the format under test) and, for each array, the values the
C++ test must read back as raw little-endian bytes in OUT/expected/<split>/<name>.bin:
  image    float32 [N, 1, 4, 4]  -> expected float32
  features float64 [N, 6]        -> expected float32 (data.files serves dense inputs as float32)
  tokens   int64   [N, 5]        -> expected int64 (ids in [1, 20), 0-padded tails)
  label    int64 (train) / int32 (test) [N] -> expected int64
  group    int32 [N]             -> expected int64
  ood      bool [N] (test only)  -> expected uint8; OOD rows hold label -1
and OUT/expected/sizes.txt: one "split N" line per split.
"""
import os
import sys

import numpy as np


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(1234)
    sizes = {"train": 23, "test": 11}
    for split, n in sizes.items():
        d = os.path.join(out, "data", split)
        e = os.path.join(out, "expected", split)
        os.makedirs(d, exist_ok=True)
        os.makedirs(e, exist_ok=True)

        image = rng.standard_normal((n, 1, 4, 4)).astype(np.float32)
        features = rng.standard_normal((n, 6)) * 1e3  # float64, values that do not fit float32 exactly
        tokens = rng.integers(1, 20, size=(n, 5), dtype=np.int64)
        tokens[::3, 3:] = 0  # padding
        label = rng.integers(0, 3, size=n)
        group = (label * 2 + rng.integers(0, 2, size=n)).astype(np.int32)
        ood = np.zeros(n, dtype=bool)
        if split == "test":
            ood[::4] = True
            label[ood] = -1
            group[ood] = -1
            label = label.astype(np.int32)

        # The two lines a user writes, per array:
        np.save(os.path.join(d, "image.npy"), image)
        np.save(os.path.join(d, "features.npy"), features)
        np.save(os.path.join(d, "tokens.npy"), tokens)
        np.save(os.path.join(d, "label.npy"), label)
        np.save(os.path.join(d, "group.npy"), group)
        if split == "test":
            np.save(os.path.join(d, "ood.npy"), ood)

        def raw(name, a, dtype):
            np.ascontiguousarray(a.astype(np.dtype(dtype).newbyteorder("<"))).tofile(os.path.join(e, name + ".bin"))

        raw("image", image, np.float32)
        raw("features", features, np.float32)
        raw("tokens", tokens, np.int64)
        raw("label", label, np.int64)
        raw("group", group, np.int64)
        raw("ood", ood, np.uint8)
    with open(os.path.join(out, "expected", "sizes.txt"), "w") as f:
        for split, n in sizes.items():
            f.write("%s %d\n" % (split, n))


if __name__ == "__main__":
    main()
