# An evaluation sample of a CREMA-D tree as OGM-GE's CramedDataset computes it, written from its code's description
# (not from mmdebias): audio read at 22050 Hz (the file must already be at 22050: no resampling here), tiled and cut
# to 3 s, clipped to [-1, 1], |STFT| with n_fft 512, hop 353, a periodic Hann window and centred, reflect-padded
# frames (librosa < 0.10's stft), then log(|S| + 1e-7); one frame, the middle one of the sorted frame files, as
# torchvision's evaluation transform on a tensor: ToTensor, Resize((s, s)) with antialiasing, Normalize(ImageNet).
# Writes OUT.audio.f32 and OUT.frames.f32 (float32, C order).
#   media_reference.py ROOT CLIP SIZE OUT
import os
import sys
import wave

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image

root, clip, size, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with wave.open(os.path.join(root, "AudioWAV", clip + ".wav")) as w:
    assert w.getframerate() == 22050 and w.getsampwidth() == 2 and w.getnchannels() == 1
    samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
n = 22050 * 3
samples = np.tile(samples, -(-n // len(samples)))[:n]
samples = np.clip(samples, -1.0, 1.0)
spec = torch.stft(torch.from_numpy(samples), n_fft=512, hop_length=353, window=torch.hann_window(512),
                  center=True, pad_mode="reflect", return_complex=True).abs()
np.log(spec.numpy() + 1e-7).astype(np.float32).tofile(out + ".audio.f32")

folder = os.path.join(root, "Image-01-FPS", clip)
names = sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))
img = Image.open(os.path.join(folder, names[len(names) // 2])).convert("RGB")
t = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255.0
t = F.resize(t, [size, size], antialias=True)
t = F.normalize(t, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
t.unsqueeze(0).numpy().astype(np.float32).tofile(out + ".frames.f32")
