"""Typed settings, loaded once: environment variables (``LAB_...``, nested with ``__``),
then an optional TOML settings file, then the defaults below.

Examples::

    LAB_DATA_DIR=/srv/lab-data
    LAB_MODELS__LLM=HuggingFaceTB/SmolLM2-360M-Instruct   # a hub id, a local folder or a .gguf file
    QDRANT_URL=https://my-cluster:6333  QDRANT_API_KEY=...   # Qdrant server instead of embedded
    LAB_SETTINGS_FILE=/etc/lab/settings.toml
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

BUNDLED_LLM = "bundled:smollm2"
BUNDLED_EMBEDDER = "bundled:all-minilm-l6-v2"
REPO_ROOT = Path(__file__).resolve().parent.parent


# HF_HUB_OFFLINE as the user set it, before load_settings defaults it to 1 for this process.
USER_HUB_OFFLINE = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
MODEL_CHOICE_FILE = "model.json"  # the model picked on the Models page, kept in the data folder
MODEL_CHOICE_KEYS = ("llm", "device", "dtype")  # what model.json records
DtypeSetting = Literal["auto", "fp32", "bf16", "int8"]  # core.models.precision says what each means


class ModelSettings(BaseModel):
    llm: str = Field(
        BUNDLED_LLM,
        description="Causal LM: 'bundled:smollm2', a local folder in Hugging Face format, a .gguf file or a hub id. "
                    "A model picked on the Models page is kept in the data folder and wins over this.",
    )
    embedder: str = Field(BUNDLED_EMBEDDER, description="Sentence embedder: the bundled MiniLM, a local folder or a hub id.")
    device: Literal["cpu", "cuda", "auto"] = Field("auto", description="Where the models run; auto is CUDA when torch sees a GPU, else CPU.")
    dtype: DtypeSetting = Field(
        "auto",
        description="Precision of the language model's weights: fp32; bf16 (half the memory, fast on GPUs and on CPUs with "
                    "AMX or AVX512-BF16); int8 weight-only (a quarter of the memory, needs torchao); auto: bf16 on a GPU, "
                    "and on a bf16-capable CPU for models of 300M parameters or more, else fp32 (the bundled model stays fp32). "
                    "The Models page can change it.",
    )
    hub_downloads: bool = Field(
        True,
        description="Let the Models page download a hub model the user picks (only that download goes online; "
                    "the app itself loads models offline). False, or HF_HUB_OFFLINE=1 in the environment, keeps it all offline.",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Chunks embedded per batch.")
    embedder_backend: Literal["auto", "onnx-int8", "torch"] = Field("auto", description="Embedder runtime for new knowledge bases: int8 ONNX (~3x faster on CPU, exported once to cache_dir), fp32 torch, or auto (int8 on CPU, torch on GPU).")
    cache_dir: Path = Field(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag-ft-lab",
        description="Where a GGUF model is kept once dequantized (safetensors), so later loads take well under a second.",
    )

    @property
    def downloads_allowed(self) -> bool:
        return self.hub_downloads and not USER_HUB_OFFLINE


class QdrantSettings(BaseModel):
    url: str | None = Field(None, description="Qdrant server URL; unset means the embedded store under the data folder.")
    api_key: SecretStr | None = Field(None, description="API key for the Qdrant server.")


class IngestSettings(BaseModel):
    max_file_mb: float = Field(25, gt=0, description="Largest file accepted for upload, in MB.")
    parse_timeout_s: float = Field(60, gt=0, description="Time limit for parsing one file.")
    parse_memory_mb: int = Field(1536, ge=256, description="Memory limit of the parsing subprocess.")
    max_unpacked_mb: int = Field(200, ge=1, description="Largest total unpacked size of a DOCX (zip-bomb guard).")
    background_mb: float = Field(8, gt=0, description="An upload of this many MB or more runs as a background job.")
    background_files: int = Field(50, ge=1, description="An upload of this many files or more runs as a background job.")
    background_reindex_chunks: int = Field(
        2000, ge=1, description="Re-indexing a knowledge base of this many chunks or more runs as a background job.")


class RetrievalSettings(BaseModel):
    chunk_size: int = Field(
        120, ge=32, le=4096,
        description="Default chunk size (embedder tokens) for new knowledge bases; 120 measured best for the 135M model (README).",
    )
    chunk_overlap: int = Field(20, ge=0, description="Default chunk overlap (tokens) for new knowledge bases.")
    top_k: int = Field(3, ge=1, le=50, description="Passages retrieved per question.")
    mode: Literal["hybrid", "dense"] = Field("hybrid", description="Default retrieval mode for new knowledge bases.")
    candidates: int = Field(20, ge=1, le=500, description="Candidates fetched from each side before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    min_score: float = Field(
        0.3, ge=-1, le=1,
        description="Relevance threshold: passages whose embedding cosine to the question is below it are not given to the model.",
    )
    require_support: bool = Field(
        True,
        description="Open-book arms answer \"I don't know.\" when no sentence of their passages supports the model's "
                    "answer (the answer is kept, shown as withheld). Measured on the demo test set (README).",
    )


class GenerationSettings(BaseModel):
    max_new_tokens: int = Field(96, ge=1, le=2048, description="Most tokens generated per answer.")
    temperature: float = Field(0.0, ge=0, le=2, description="0 means greedy decoding (the default: reproducible).")
    max_prompt_tokens: int = Field(
        2048, ge=64, description="Longest prompt given to the model (passages are cut to fit); also capped by its context window."
    )
    max_adapters_loaded: int = Field(4, ge=1, le=32, description="LoRA adapters kept in memory at once (least recently used go first).")


class DemoAdapterSettings(BaseModel):
    enabled: bool = Field(
        True, description="On a fresh demo workspace, train the demo adapter in the background, then evaluate it on the "
                          "demo test set (README: Quick start). Off: the fine-tuned panes wait for an adapter you train.")
    max_steps: int | None = Field(None, ge=1, description="Cap on the demo adapter's training steps (quick trials, "
                                                          "tests); unset: the recipe's own (README).")
    eval_questions: int | None = Field(None, ge=1, description="Questions of the demo test set in the demo evaluation; "
                                                               "unset: all of them.")


class JobSettings(BaseModel):
    nice: int = Field(
        10, ge=0, le=19,
        description="How far below the app background jobs run on the CPU (Unix nice; 0 = the app's priority). "
                    "Measured on 2 cores (bench/contention.py): a training job at the app's priority cut the app's "
                    "4-row decoding about 5-fold, and the job itself got slower too; at 10 the app answers at nearly "
                    "full speed and the job runs in the gaps.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LAB_", env_nested_delimiter="__", extra="ignore", toml_file=None
    )

    data_dir: Path = Field(REPO_ROOT / "data", description="Runtime state: knowledge bases, jobs, adapters.")
    knowledge_dir: Path | None = Field(None, description="Where the knowledge bases (catalog and vectors) live; "
                                                         "unset: the data folder. A job process points it at its "
                                                         "private snapshot (core.knowledge.storage.snapshot).")
    demo_seed: bool = Field(True, description="Seed the demo knowledge base on first start.")
    demo_adapter: DemoAdapterSettings = DemoAdapterSettings()
    models: ModelSettings = ModelSettings()
    qdrant: QdrantSettings = QdrantSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    generation: GenerationSettings = GenerationSettings()
    jobs: JobSettings = JobSettings()

    @model_validator(mode="before")
    @classmethod
    def _qdrant_from_standard_env(cls, values: dict) -> dict:
        # QDRANT_URL / QDRANT_API_KEY are the names Qdrant's own tools use; honour them.
        qdrant = dict(values.get("qdrant") or {})
        for key in ("url", "api_key"):
            env = os.environ.get(f"QDRANT_{key.upper()}")
            if env and not qdrant.get(key):
                qdrant[key] = env
        values["qdrant"] = qdrant
        return values

    @field_validator("data_dir", "knowledge_dir")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        return None if v is None else (v if v.is_absolute() else REPO_ROOT / v).resolve()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("LAB_SETTINGS_FILE", REPO_ROOT / "settings.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def knowledge_root(self) -> Path:
        return self.knowledge_dir or self.data_dir

    @property
    def qdrant_path(self) -> Path:
        return self.knowledge_root / "qdrant"

    @property
    def catalog_path(self) -> Path:
        return self.knowledge_root / "catalog.db"

    @property
    def kb_dir(self) -> Path:
        return self.knowledge_root / "kbs"

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def model_choice_path(self) -> Path:
        return self.data_dir / MODEL_CHOICE_FILE

    @property
    def votes_path(self) -> Path:
        """The stakeholders' blind votes (core.votes.store)."""
        return self.data_dir / "votes.db"


def load_settings(**overrides) -> Settings:
    """Settings from env, settings file and defaults; keyword overrides win (used by tests)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return Settings(**overrides)


def apply_model_choice(settings: Settings) -> Settings:
    """Settings with the model (device and precision) picked on the Models page for this data folder, when
    there is one. The app and its job processes call it; tests and benchmarks do not, so a model
    picked in a workspace never changes what they measure."""
    import json

    try:
        choice = json.loads(settings.model_choice_path.read_text(encoding="utf-8"))
        models = ModelSettings(**{**settings.models.model_dump(), **{k: choice[k] for k in MODEL_CHOICE_KEYS if k in choice}})
    except FileNotFoundError:
        return settings
    except (OSError, ValueError, TypeError) as exc:  # a damaged file: the configured model, and the log says why
        import logging

        logging.getLogger(__name__).warning("ignored %s: %s", settings.model_choice_path, exc)
        return settings
    return settings.model_copy(update={"models": models})
