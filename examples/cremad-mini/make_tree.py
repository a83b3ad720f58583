# Writes a miniature CREMA-D tree laid out as OGM-GE prepares it (its CramedDataset and video_preprocessing.py):
#   ROOT/AudioWAV/<clip>.wav                  speech, 16 kHz mono 16-bit like CREMA-D's: every other clip a real
#                                             recorded voice (Debian's asterisk-core-sounds-en-wav, resampled from
#                                             8 kHz), the others espeak-ng's
#   ROOT/Image-01-FPS/<clip>/<frame:05d>.jpg  frames (PIL), one per second of a 3-frame clip
#   ROOT/train.csv, ROOT/test.csv             headerless "clip,EMOTION" lines
# Clip names follow CREMA-D's actor_sentence_emotion_level. The emotion is in both modalities: the spoken word and
# its pitch, and the colour and shape of the frames, so a model can learn it from either. Deterministic.
#   examples/cremad-mini/make_tree.py ROOT [--train N] [--test N] [--rate 16000] [--frames 3] [--frame-size 64x48]
#                                     [--voices mixed|espeak]
import argparse
import os
import subprocess

import numpy as np
from PIL import Image, ImageDraw

EMOTIONS = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]
WORDS = {"NEU": "the table is brown", "HAP": "what a lovely day", "SAD": "I lost my way home",
         "FEA": "something is behind us", "DIS": "that smells awful", "ANG": "stop doing that now"}
VOICES = ["en", "en-us", "en+f3", "en+m3"]
# A recorded prompt per emotion (Allison's voice in asterisk-core-sounds-en-wav), distinct as WORDS are.
RECORDED = {"NEU": "activated", "HAP": "hello", "SAD": "sorry", "FEA": "calling", "DIS": "goodbye", "ANG": "cancelled"}
RECORDINGS = "/usr/share/asterisk/sounds/en"


def recorded(path, emotion, rate):
    source = os.path.join(RECORDINGS, RECORDED[emotion] + ".wav")
    subprocess.run(["sox", "-q", source, "-r", str(rate), "-c", "1", "-b", "16", path], check=True)
COLOURS = [(128, 128, 128), (240, 200, 40), (40, 60, 200), (120, 40, 160), (60, 160, 60), (220, 40, 40)]


def speech(path, text, voice, pitch, rate):
    wav = subprocess.run(["espeak-ng", "--stdout", "-v", voice, "-p", str(pitch), "-s", "160", text],
                         check=True, capture_output=True).stdout
    subprocess.run(["sox", "-q", "-t", "wav", "-", "-r", str(rate), "-c", "1", "-b", "16", path],
                   input=wav, check=True)


def frames(folder, emotion, rng, count, size):
    os.makedirs(folder, exist_ok=True)
    k = EMOTIONS.index(emotion)
    for f in range(count):
        img = Image.new("RGB", size, tuple(int(c * 0.3) for c in COLOURS[k]))
        draw = ImageDraw.Draw(img)
        sx, sy = size[0] / 64, size[1] / 48  # the drawing scales with the frame
        x, y = rng.integers(4, 20) * sx, rng.integers(4, 14) * sy
        box = [x, y, x + (24 + 2 * k) * sx, y + 20 * sy]
        (draw.ellipse if k % 2 else draw.rectangle)(box, fill=COLOURS[k])
        noise = rng.normal(0, 12, (size[1], size[0], 3))
        arr = np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(os.path.join(folder, f"{f * 30:05d}.jpg"), quality=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--train", type=int, default=4, help="clips per emotion in train.csv")
    ap.add_argument("--test", type=int, default=2, help="clips per emotion in test.csv")
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--frames", type=int, default=3, help="frames per clip")
    ap.add_argument("--frame-size", default="64x48", help="WIDTHxHEIGHT of the frames")
    ap.add_argument("--voices", choices=["mixed", "espeak"], default="mixed",
                    help="mixed: every other clip a recorded voice (needs asterisk-core-sounds-en-wav); espeak: all synthetic")
    a = ap.parse_args()
    if a.voices == "mixed" and not os.path.isdir(RECORDINGS):
        raise SystemExit(f"make_tree.py: no recorded voices in {RECORDINGS}: install asterisk-core-sounds-en-wav "
                         "(scripts/setup --tests does), or pass --voices espeak")
    size = tuple(int(v) for v in a.frame_size.split("x"))
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(a.root, "AudioWAV"), exist_ok=True)
    splits = {"train": [], "test": []}
    actor = 1001
    for e, emotion in enumerate(EMOTIONS):
        for i in range(a.train + a.test):
            clip = f"{actor + i}_S{e:02d}_{emotion}_XX"
            wav = os.path.join(a.root, "AudioWAV", clip + ".wav")
            if i % 2 == 1 and a.voices == "mixed":
                recorded(wav, emotion, a.rate)
            else:
                speech(wav, WORDS[emotion], VOICES[i % len(VOICES)], 30 + 8 * e, a.rate)
            frames(os.path.join(a.root, "Image-01-FPS", clip), emotion, rng, a.frames, size)
            splits["train" if i < a.train else "test"].append(f"{clip},{emotion}")
    for name, lines in splits.items():
        with open(os.path.join(a.root, name + ".csv"), "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
