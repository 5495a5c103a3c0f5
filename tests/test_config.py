from pathlib import Path

from core.config import load_settings


def test_defaults_are_the_embedded_stack(monkeypatch):
    monkeypatch.delenv("QDRANT_URL", raising=False)
    s = load_settings()
    assert s.models.llm == "bundled:smollm2"
    assert s.qdrant.url is None
    assert s.data_dir.is_absolute()


def test_env_vars_override_nested_settings(monkeypatch):
    monkeypatch.setenv("LAB_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("LAB_MODELS__LLM", "/models/my-llm")
    s = load_settings()
    assert s.retrieval.top_k == 7
    assert s.models.llm == "/models/my-llm"


def test_standard_qdrant_env_names_select_a_server(monkeypatch):
    monkeypatch.setenv("QDRANT_URL", "https://qdrant.example:6333")
    monkeypatch.setenv("QDRANT_API_KEY", "secret")
    s = load_settings()
    assert s.qdrant.url == "https://qdrant.example:6333"
    assert s.qdrant.api_key.get_secret_value() == "secret"


def test_settings_file_is_read(monkeypatch, tmp_path: Path):
    toml = tmp_path / "settings.toml"
    toml.write_text('data_dir = "/tmp/lab-x"\n[ingest]\nmax_file_mb = 3\n')
    monkeypatch.setenv("LAB_SETTINGS_FILE", str(toml))
    s = load_settings()
    assert s.ingest.max_file_mb == 3
    assert s.data_dir == Path("/tmp/lab-x")


def test_streamlit_config_is_safe_for_uploads_and_hides_tracebacks():
    import tomllib

    from core.config import REPO_ROOT

    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] == load_settings().ingest.max_file_mb
    assert config["client"]["showErrorDetails"] == "none"
    assert config["browser"]["gatherUsageStats"] is False
