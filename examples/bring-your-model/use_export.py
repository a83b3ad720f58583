# Step 4 of docs/bring-your-model.md: the exported pipeline back in PyTorch, no mmdebias needed.
#   python3 use_export.py exported/
import json
import sys

import torch

export = sys.argv[1] if len(sys.argv) > 1 else "exported"
model = torch.jit.load(f"{export}/model.pt")            # encoders, fusion, head (and prediction adjustments)
info = json.load(open(f"{export}/pipeline.json"))        # inputs, components and their options
samples = torch.load(f"{export}/samples.pt")             # the first test samples, with mmdebias's logits

with torch.no_grad():
    logits = model(samples["inputs"])                    # a dict {modality: [B, *shape]} -> [B, classes]
difference = (logits - samples["logits"]).abs().max().item()
accuracy = (logits.argmax(1) == samples["label"]).float().mean().item()
print(f"inputs: {', '.join(i['name'] + str(i['shape']) for i in info['inputs'])}")
print(f"{len(logits)} samples: accuracy {accuracy:.1%}, largest difference from mmdebias's logits {difference:.1e}")
assert difference <= 1e-5 * samples["logits"].abs().max().item(), "the export does not reproduce mmdebias"
