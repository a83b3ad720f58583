# An evaluation sample of a CREMA-D tree as OGM-GE's CramedDataset computes it, written from its code's description
# (not from mmdebias): audio read at 22050 Hz (the file must already be at 22050: no resampling here), tiled and cut
# to 3 s, clipped to [-1, 1], |STFT| with n_fft 512, hop 353, a periodic Hann window and centred, reflect-padded
# frames (librosa < 0.10's stft), then log(|S| + 1e-7); one frame, the middle one of the sorted frame files, as
# torchvision's evaluation transform on a tensor: ToTensor, Resize((s, s)) with antialiasing, Normalize(ImageNet).
# Also the log-mel features (40 Slaney mel filters as librosa's defaults). Writes OUT.audio.f32, OUT.mel.f32 and
# OUT.frames.f32 (float32, C order).
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


# 40 mel filters as librosa.filters.mel's defaults (htk=False: Slaney's scale, norm="slaney": each filter's area
# 2 / (right - left)), from its formulas; then log(mel @ |S|^2 + 1e-6).
def hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    mel = f / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel)


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


n_mels, sr, n_fft = 40, 22050, 512
fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
fdiff = np.diff(mel_f)
ramps = mel_f[:, None] - fft_freqs[None, :]
weights = np.zeros((n_mels, len(fft_freqs)))
for i in range(n_mels):
    weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
mel = weights @ (spec.numpy().astype(np.float64) ** 2)
np.log(mel + 1e-6).astype(np.float32).tofile(out + ".mel.f32")

folder = os.path.join(root, "Image-01-FPS", clip)
names = sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))
img = Image.open(os.path.join(folder, names[len(names) // 2])).convert("RGB")
t = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255.0
t = F.resize(t, [size, size], antialias=True)
t = F.normalize(t, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
t.unsqueeze(0).numpy().astype(np.float32).tofile(out + ".frames.f32")
