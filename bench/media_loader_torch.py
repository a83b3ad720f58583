# The PyTorch side of bench/media_loader.sh: a CREMA-D tree (OGM-GE's layout) read the way its users read it —
# torch.utils.data.DataLoader with WORKERS worker processes; per clip soundfile (libsndfile) + scipy's polyphase
# resampling to 22050 Hz, tiled to 3 s, clipped, log |torch.stft| (n_fft 512, hop 353); FRAMES frames, one random per
# equal segment, each PIL-decoded (libjpeg-turbo) and put through torchvision's RandomResizedCrop(SIZE),
# RandomHorizontalFlip, ToTensor and Normalize. The same work as media.clips's training split. Prints one JSON line
# per epoch.
#   media_loader_torch.py ROOT [--workers 2] [--batch 64] [--frames 3] [--size 224] [--epochs 2]
import argparse
import csv
import json
import math
import os
import random
import time

import numpy as np
import soundfile
import torch
from PIL import Image
from scipy.signal import resample_poly
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

CLASSES = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]


class Cremad(Dataset):
    def __init__(self, root, frames, size):
        self.root, self.frames = root, frames
        with open(os.path.join(root, "train.csv")) as f:
            self.rows = [(clip, CLASSES.index(emo)) for clip, emo in csv.reader(f)]
        self.transform = transforms.Compose([
            transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        self.window = torch.hann_window(512)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        clip, label = self.rows[i]
        x, rate = soundfile.read(os.path.join(self.root, "AudioWAV", clip + ".wav"), dtype="float32")
        if x.ndim > 1:
            x = x.mean(1)
        if rate != 22050:
            g = math.gcd(22050, rate)
            x = resample_poly(x, 22050 // g, rate // g).astype(np.float32)
        n = 22050 * 3
        x = np.clip(np.tile(x, -(-n // len(x)))[:n], -1.0, 1.0)
        spec = torch.stft(torch.from_numpy(x), 512, 353, window=self.window, center=True, pad_mode="reflect",
                          return_complex=True).abs()
        audio = torch.log(spec + 1e-7)
        folder = os.path.join(self.root, "Image-01-FPS", clip)
        names = sorted(os.listdir(folder))
        seg = len(names) / self.frames
        picks = [min(len(names) - 1, int(seg * (t + random.random()))) for t in range(self.frames)]
        visual = torch.stack([self.transform(Image.open(os.path.join(folder, names[k])).convert("RGB")) for k in picks])
        return audio, visual, label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--epochs", type=int, default=2)
    a = ap.parse_args()
    loader = DataLoader(Cremad(a.root, a.frames, a.size), batch_size=a.batch, shuffle=True, drop_last=True,
                        num_workers=a.workers, persistent_workers=a.workers > 0)
    for e in range(a.epochs):
        t0, samples = time.perf_counter(), 0
        for audio, visual, label in loader:
            samples += len(label)
        s = time.perf_counter() - t0
        print(json.dumps({"reader": "pytorch", "torch": torch.__version__, "epoch": e, "samples": samples,
                          "seconds": round(s, 3), "samples_per_second": round(samples / s, 1)}), flush=True)


if __name__ == "__main__":
    main()
