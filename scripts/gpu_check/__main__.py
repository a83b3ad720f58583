"""`python scripts/gpu_check`: what scripts/gpu-check runs (see main.py)."""
import sys
from pathlib import Path

# Run as a folder, Python puts the folder itself first on sys.path, which would make its modules importable by bare
# names (report, steps) beside bench/'s; the parent instead makes them the package gpu_check, relative imports and all.
if not __package__:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from gpu_check.main import main  # noqa: E402  (needs the sys.path above)

sys.exit(main())
