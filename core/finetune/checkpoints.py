"""Training checkpoints in safetensors (adapter weights and optimizer state; no pickles).

A checkpoint folder ``step-N`` is written as ``.step-N.partial`` and renamed when complete,
so a crash leaves either a complete checkpoint or none.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

ADAPTER = "adapter.safetensors"
OPTIMIZER = "optimizer.safetensors"


def save(folder: Path, step: int, peft_model, optimizer) -> Path:
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".step-{step}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    weights = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
    save_file(weights, str(partial / ADAPTER))
    state = optimizer.state_dict()
    tensors = {f"{idx}.{name}": value.detach().contiguous()
               for idx, entries in state["state"].items() for name, value in entries.items()}
    save_file(tensors, str(partial / OPTIMIZER), metadata={"param_groups": json.dumps(state["param_groups"])})
    final = folder / f"step-{step}"
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    for old in complete(folder)[:-2]:  # keep the last two
        shutil.rmtree(old[1], ignore_errors=True)
    return final


def complete(folder: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = re.fullmatch(r"step-(\d+)", p.name)
        if m and (p / ADAPTER).is_file() and (p / OPTIMIZER).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def load_latest(folder: Path, peft_model) -> tuple[int, dict | None]:
    """Load the newest complete checkpoint's weights into ``peft_model``; return (step, optimizer state)."""
    from peft import set_peft_model_state_dict
    from safetensors import safe_open
    from safetensors.torch import load_file

    found = complete(folder)
    if not found:
        return 0, None
    step, path = found[-1]
    set_peft_model_state_dict(peft_model, load_file(str(path / ADAPTER)))
    with safe_open(str(path / OPTIMIZER), framework="pt") as fh:
        groups = json.loads(fh.metadata()["param_groups"])
        state: dict[int, dict] = {}
        for key in fh.keys():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = fh.get_tensor(key)
    return step, {"state": state, "param_groups": groups}
