"""Where every benchmark puts its figures: printed as JSON, and kept in bench/results/."""

from __future__ import annotations

import json
from typing import Any

from harness.server import ROOT


def publish(file_name: str, figures: Any) -> None:
    payload = json.dumps(figures, indent=2)
    print(payload)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / file_name).write_text(payload + "\n")
