#!/usr/bin/env bash
# docs/bring-your-model.md end to end, from this folder: make the models, train with ARL, export, load in PyTorch.
#   examples/bring-your-model/run.sh [key.path=value ...]     (e.g. train.epochs=2)
# MMDEBIAS names the host (default build/bin/mmdebias); PYTHON a Python with torch (default python3), MODEL_PYTHON one
# with torch and torchvision for step 1 (default PYTHON; TorchScript and torch.save files load in newer LibTorch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mmdebias=${MMDEBIAS:-$here/../../build/bin/mmdebias}
python=${PYTHON:-python3}
model_python=${MODEL_PYTHON:-$python}
cd "${WORKDIR:-$here}"  # where the models, the run and the export are written
cp -n "$here"/{make_models.py,manifest.yaml,use_export.py} . 2>/dev/null || true
"$model_python" make_models.py
rm -rf runs/bring-your-model exported
"$mmdebias" run manifest.yaml --out runs/bring-your-model "$@"
"$mmdebias" export runs/bring-your-model --out exported
"$python" use_export.py exported
