"""Reads a run's TensorBoard event files back with the tensorboard package and compares them with metrics.jsonl.

  tensorboard_check.py RUN_DIR [--expect-purge]

Every record is framed and checksummed as TFRecord requires (checked here byte by byte), the first event of each file
is file_version "brain.Event:2", and what TensorBoard shows (EventAccumulator, which applies SessionLog.START purges)
holds every finite numeric leaf of metrics.jsonl under "<type>/<key>/..." at the same steps, in the same order, with the
same values once rounded to float32, and nothing else. --expect-purge: the run was resumed, and an earlier file logged
steps that the resume's START superseded (so the purge was exercised, not assumed).
"""
import glob
import json
import math
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c


def records(path, killed):
    """The events of one file, checking every length and data CRC. killed: the writer was killed, so its last record
    may be cut short (TensorBoard stops reading there); every whole record must still check."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        if killed and (pos + 12 > len(data) or pos + 16 + struct.unpack("<Q", data[pos:pos + 8])[0] > len(data)):
            print(f"{os.path.basename(path)}: the killed writer's last record is cut short at byte {pos}")
            break
        assert pos + 12 <= len(data), f"{path}: truncated header at byte {pos}"
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert header_crc == masked_crc32c(header), f"{path}: bad length CRC at byte {pos}"
        body = data[pos + 12:pos + 12 + length]
        assert len(body) == length, f"{path}: truncated record at byte {pos}"
        (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert body_crc == masked_crc32c(body), f"{path}: bad data CRC at byte {pos}"
        event = event_pb2.Event()
        event.ParseFromString(body)
        out.append(event)
        pos += 16 + length
    return out


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def flatten(node, tag, out):
    if isinstance(node, dict):
        for k, v in node.items():
            flatten(v, f"{tag}/{k}", out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            flatten(v, f"{tag}/{i}", out)
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node):
        out.append((tag, node))


def expected(run_dir):
    """tag -> [(step, value)] from metrics.jsonl, in file order."""
    series = {}
    for line in open(os.path.join(run_dir, "metrics.jsonl")):
        if not line.strip():
            continue
        d = json.loads(line)
        leaves = []
        for k, v in d.items():
            if k not in ("type", "step"):
                flatten(v, f"{d['type']}/{k}", leaves)
        for tag, value in leaves:
            series.setdefault(tag, []).append((d["step"], f32(value)))
    return series


def main():
    run_dir = sys.argv[1]
    expect_purge = "--expect-purge" in sys.argv
    files = sorted(glob.glob(os.path.join(run_dir, "tensorboard", "events.out.tfevents.*")))
    assert files, f"no event file in {run_dir}/tensorboard"
    per_file = [records(f, killed=expect_purge and f != files[-1]) for f in files]
    for f, events in zip(files, per_file):
        assert events and events[0].file_version == "brain.Event:2", f"{f}: first event is not file_version brain.Event:2"
        starts = [e for e in events if e.HasField("session_log") and e.session_log.status == event_pb2.SessionLog.START]
        assert len(starts) == 1, f"{f}: {len(starts)} SessionLog.START events, expected 1"
    if expect_purge:
        assert len(files) >= 2, f"a resumed run has {len(files)} event file(s)"
        start = [e.step for e in per_file[-1] if e.HasField("session_log")][0]
        superseded = [e.step for events in per_file[:-1] for e in events if e.HasField("summary") and e.step >= start]
        assert superseded, f"no earlier file logged a step >= {start}: the resume replayed nothing, the purge went untested"
        print(f"the resume's START at step {start} supersedes {len(superseded)} earlier event(s) at steps {sorted(set(superseded))}")

    acc = event_accumulator.EventAccumulator(
        os.path.join(run_dir, "tensorboard"), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    acc.Reload()
    want = expected(run_dir)
    got = {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    assert set(got) == set(want), f"tags only in TensorBoard: {sorted(set(got) - set(want))[:10]}; only in metrics.jsonl: {sorted(set(want) - set(got))[:10]}"
    for tag in sorted(want):
        assert got[tag] == want[tag], f"{tag}: TensorBoard has {got[tag][:8]}... ({len(got[tag])}), metrics.jsonl {want[tag][:8]}... ({len(want[tag])})"
    for tag in ("train/loss", "train/lr", "eval/classification/accuracy"):
        assert tag in got, f"{tag} missing"
    train_steps = [s for s, _ in got["train/loss"]]
    assert train_steps == sorted(set(train_steps)), f"train/loss has duplicated or unordered steps: {train_steps}"

    manifest = acc.Tensors("manifest")
    resolved = open(os.path.join(run_dir, "resolved.yaml")).read()
    text = manifest[0].tensor_proto.string_val[0].decode()  # the first start's: resolved.yaml is written by it
    assert manifest[0].step == 0 and text == "```yaml\n" + resolved + "```\n", "the first manifest text is not resolved.yaml at step 0"
    print(f"{len(files)} event file(s); {len(want)} tags, {sum(len(v) for v in want.values())} scalars match metrics.jsonl")


if __name__ == "__main__":
    main()
