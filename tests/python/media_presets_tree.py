# Writes the miniature trees tests/plugins/test_media_presets.cpp reads, laid out as the releases prepare them:
#   ROOT/ks       BalanceBenchmark's Kinetics-Sounds (KSDataset): ks_<split>_overlap.txt "clip ... label" lines,
#                 <split>_spec/<clip>.npy, <split>-frames-1fps/<split>/<clip>/frame_0000<t>.jpg
#   ROOT/ave      OGM-GE's AVE (dataset/dataset.py): my_<split>.txt "Class,clip,..." lines, stat.txt,
#                 audio_spec/<clip>.pkl (pickle protocols 2, 3, 5; one clip .npy), visual/<clip>/frame_0000<t>.jpg
#   ROOT/generic  an index.csv with a text column, pre-tokenised ids and a .npy column, and a vocab.txt
# Every frame is one flat colour whose red channel is 20 * t, so a test can tell which frame a loader opened.
import os
import pickle
import sys

import numpy as np
from PIL import Image

root = sys.argv[1]


def frames(folder, names):
    os.makedirs(folder, exist_ok=True)
    for name, t in names:
        Image.new("RGB", (40, 30), (20 * t, 100, 50)).save(os.path.join(folder, name), quality=95)


def release_names(count):  # 'frame_0000' + str(t) + '.jpg', t = 1..count, as both releases name them
    return [("frame_0000" + str(t) + ".jpg", t) for t in range(1, count + 1)]


def spectrogram(path, seed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.random.default_rng(seed).normal(size=(16, 20)).astype(np.float32))


ks = os.path.join(root, "ks")
#         clip, split, frames, has spectrogram, label
for clip, split, count, spec, label in [("k0", "train", 9, True, 0), ("k1", "train", 4, True, 2), ("k2", "train", 9, False, 1),
                                         ("k3", "train", 3, True, 1), ("k4", "train", 12, True, 1), ("k5", "test", 9, True, 1),
                                         ("k6", "test", 6, True, 0)]:
    frames(os.path.join(ks, split + "-frames-1fps", split, clip), release_names(count))
    if spec:
        spectrogram(os.path.join(ks, split + "_spec", clip + ".npy"), len(clip) + count)
with open(os.path.join(ks, "ks_train_overlap.txt"), "w") as f:
    f.write("k0 10 0\nk1 10 2\nk2 10 1\nk3 10 1\nk4 10 1\n")
with open(os.path.join(ks, "ks_test_overlap.txt"), "w") as f:
    f.write("k5 10 1\nk6,10,0\n")  # OGM-GE's copies of the split files use commas

ave = os.path.join(root, "ave")
os.makedirs(os.path.join(ave, "audio_spec"), exist_ok=True)
for clip, protocol in [("a0", 2), ("a1", None), ("a2", 3), ("a4", 5)]:
    frames(os.path.join(ave, "visual", clip), release_names(10))
    if protocol is None:  # the same array saved with np.save instead
        spectrogram(os.path.join(ave, "audio_spec", clip + ".npy"), ord(clip[1]))
    else:  # the release's audio_spec/<clip>.pkl: pickle.dump of the array
        with open(os.path.join(ave, "audio_spec", clip + ".pkl"), "wb") as f:
            pickle.dump(np.random.default_rng(ord(clip[1])).normal(size=(16, 20)), f, protocol=protocol)
with open(os.path.join(root, "not_an_array.pkl"), "wb") as f:
    pickle.dump({"spectrogram": np.zeros(3)}, f)
frames(os.path.join(ave, "visual", "a3"), release_names(10))  # no spectrogram: dropped
with open(os.path.join(ave, "stat.txt"), "w") as f:
    f.write("Church bell\nBark\nAcoustic guitar\n")
with open(os.path.join(ave, "my_train.txt"), "w") as f:
    f.write("Bark,a0,good,0,10\nChurch bell,a1,good,0,10\nBark,a2,good,0,10\nBark,a3,good,0,10\nBark,a2,good,0,10\n")
with open(os.path.join(ave, "my_test.txt"), "w") as f:
    f.write("Acoustic guitar,a4,good,0,10\n")

generic = os.path.join(root, "generic")
os.makedirs(os.path.join(generic, "feats"), exist_ok=True)
with open(os.path.join(generic, "vocab.txt"), "w") as f:
    f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "play", "##ing", ".", "dog"]) + "\n")
rows = [("train", "The cat playing.", "2 4 5 3", 0), ("train", "the DOG!", "2 9 3", 1), ("test", "a cat", "2 5 3", 0)]
with open(os.path.join(generic, "index.csv"), "w") as f:
    f.write("split,caption,ids,feat,label\n")
    for i, (split, text, ids, label) in enumerate(rows):
        np.save(os.path.join(generic, "feats", f"s{i}.npy"), np.arange(8, dtype=np.float64).reshape(4, 2) + i)
        f.write(f'{split},"{text}",{ids},feats/s{i}.npy,{label}\n')
