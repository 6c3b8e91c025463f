"""The one settings object of mailmind.

Built by :func:`load_settings` (reads the environment and ``.env``) and passed down explicitly;
tests construct ``Settings(...)`` directly. Nothing here runs at import time.

Every field maps to an environment variable with the ``MAILMIND_`` prefix; nested sections use
``__`` as the delimiter, e.g. ``MAILMIND_STORE__BUSY_TIMEOUT_S=10``. All variables are listed in
``.env.example`` and the README (a test keeps the three in sync).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Repository checkout root (``core/`` lives directly under it).
REPO_ROOT = Path(__file__).resolve().parent.parent


class StoreSettings(BaseModel):
    """Relational store (SQLite by default)."""

    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite",
        description="Store backend: `sqlite` (one file under the data dir) or `postgres` "
        "(needs `url` and the `postgres` extra).",
    )
    path: Path | None = Field(
        None, description="SQLite file; default `<data_dir>/mailmind.sqlite3`."
    )
    url: SecretStr | None = Field(
        None,
        description="Postgres URL for the `postgres` backend, e.g. "
        "`postgresql://mailmind:PASSWORD@db:5432/mailmind`; connect as an ordinary role (not a "
        "superuser or BYPASSRLS role), so row-level security applies.",
    )
    pool_size: int = Field(
        10, ge=1, description="Most pooled Postgres connections per store of a process."
    )
    busy_timeout_s: float = Field(30.0, description="How long a writer waits for a lock.")
    batch_size: int = Field(
        500, ge=1, description="Messages committed per ingest transaction (crash-safe unit)."
    )

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> StoreSettings:
        if self.backend == "postgres" and self.url is None:
            raise ValueError("MAILMIND_STORE__BACKEND=postgres needs MAILMIND_STORE__URL")
        return self


class IngestSettings(BaseModel):
    """Mail ingestion."""

    max_message_bytes: int = Field(
        50_000_000, description="Larger messages are quarantined instead of parsed."
    )
    body_chars: int = Field(
        200_000, description="Body text kept per message (longer text is truncated)."
    )
    quarantine_max_item_bytes: int = Field(
        1_000_000, ge=0, description="Bytes of a quarantined item's raw copy kept (the rest cut)."
    )
    quarantine_max_total_bytes: int = Field(
        100_000_000, ge=0, description="Raw quarantine copies kept per user in total."
    )


class EmbeddingSettings(BaseModel):
    """Sentence embedding model."""

    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Name of the packaged model or a path to a sentence-transformers folder.",
    )
    batch_size: int = Field(64, ge=1, description="Texts per encoder batch.")
    device: str = Field("cpu", description="Device for the encoder (`cpu`, or `cuda`).")
    backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx",
        description="`onnx` = the model exported to ONNX Runtime (fp32, vectors equal to torch's, "
        "~4x faster per query); `onnx-int8` = weights quantised to int8 (faster again, vectors "
        "differ slightly: an index built with it is marked so); `torch` = sentence-transformers.",
    )
    threads: int = Field(
        0, ge=0, description="ONNX Runtime threads per encoding (0 = one per core)."
    )
    onnx_cache: Path | None = Field(
        None,
        description="Where ONNX exports are cached (shared by all data dirs); default "
        "`$XDG_CACHE_HOME/mailmind/onnx` (`~/.cache/mailmind/onnx`).",
    )

    @property
    def onnx_cache_dir(self) -> Path:
        """The ONNX export cache folder."""
        if self.onnx_cache is not None:
            return self.onnx_cache
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "mailmind" / "onnx"


class IndexSettings(BaseModel):
    """Vector index (Qdrant)."""

    backend: Literal["edge", "server"] = Field(
        "edge", description="`edge` = embedded Qdrant Edge, a shard per user; `server` = Qdrant."
    )
    url: str | None = Field(None, description="Qdrant server URL for the `server` backend.")
    api_key: SecretStr | None = Field(None, description="Qdrant server API key.")
    collection: str = Field(
        "mailmind_messages", description="Collection (server) or index folder name (edge)."
    )
    chunk_words: int = Field(
        160, ge=16, description="Words per chunk; longer message texts are split with overlap."
    )
    chunk_overlap: int = Field(32, ge=0, description="Words shared by consecutive chunks.")
    bm25_k1: float = Field(1.2, gt=0, description="BM25 term-frequency saturation (sparse).")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation (sparse).")
    bm25_avg_len: float = Field(
        64.0, gt=0, description="Expected tokens per chunk after stop words (BM25 `avgdl`)."
    )
    stemming: bool = Field(True, description="Light English stemming in the sparse tokenizer.")
    fusion: Literal["minmax", "zscore", "rrf"] = Field(
        "minmax", description="How dense and sparse scores are fused in hybrid search."
    )
    dense_weight: float = Field(
        0.4, ge=0, le=1, description="Weight of the dense score in fusion (sparse: 1 - this)."
    )
    prefetch: int = Field(50, ge=10, description="Chunks fetched per method before fusion.")
    sentence_vectors: bool = Field(
        True, description="Also embed sentences for the MaxSim re-scoring stage (~2x encoding)."
    )
    sentence_pooling: bool = Field(
        False,
        description="Pool sentence vectors from the chunk's own token states (one encoder pass, "
        "ONNX backends) instead of encoding each sentence alone.",
    )
    sentence_weight: float = Field(
        0.3, ge=0, le=1, description="Share of the sentence MaxSim score in the fused score."
    )
    sentence_pool: int = Field(
        30, ge=0, description="Chunks (best by first-pass fusion) given a sentence score; 0 = all."
    )
    hnsw_m: int = Field(16, ge=4, description="HNSW graph degree.")
    hnsw_ef_construct: int = Field(200, ge=8, description="HNSW build-time beam width.")
    hnsw_ef: int = Field(192, ge=8, description="HNSW query-time beam width.")
    lock_timeout_s: float = Field(
        600.0, gt=0, description="Longest wait for another process's lock on a user's shard."
    )
    lock_linger_s: float = Field(
        60.0,
        ge=0,
        description="Keep a shard open this long after its last use (another process waiting "
        "for it is let in after the current operation regardless).",
    )


class LLMSettings(BaseModel):
    """Chat model and runtime."""

    model: str = Field("smollm2-135m-instruct", description="Registered model name.")
    runtime: Literal["auto", "transformers", "llamacpp", "openai"] = Field(
        "auto", description="Runtime used to run the model."
    )
    device: str = Field("cpu", description="Torch device for the transformers runtime.")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL.")
    api_key: SecretStr | None = Field(None, description="OpenAI-compatible server key.")
    max_concurrency: int = Field(1, ge=1, description="Generations running at once.")
    models: dict[str, Path] = Field(
        default_factory=dict,
        description="Extra models by name: a GGUF file or a Hugging Face model folder (JSON map).",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype for the transformers runtime (`auto`: bfloat16)."
    )
    context_length: int = Field(4096, ge=256, description="Context window (llama.cpp `n_ctx`).")
    threads: int | None = Field(
        None, ge=1, description="CPU threads for in-process runtimes (default: all cores but one)."
    )
    server_model: str | None = Field(
        None, description="Model name sent to the OpenAI-compatible server (default: `model`)."
    )
    request_timeout_s: float = Field(
        120.0, gt=0, description="Timeout of one OpenAI-compatible server request."
    )


class AgentSettings(BaseModel):
    """The assistant graph."""

    routing: Literal["router", "model"] = Field(
        "router",
        description="`router` = embedding intent router picks tools (small models); "
        "`model` = the chat model picks tools itself (capable models via the openai runtime).",
    )
    max_steps: int = Field(4, ge=1, le=12, description="Tool calls per turn at most.")
    timezone: str = Field("UTC", description="Default user time zone for dates in answers.")
    answer_tokens: int = Field(96, ge=16, description="Longest answer the model may write.")
    compose_answers: bool = Field(
        True,
        description="Answers are written by code from the tool results (facts, citations); "
        "`false` lets the model write them (capable models).",
    )
    max_question_chars: int = Field(
        2000, ge=1, description="Longest question `ask` accepts (checked before any tool runs)."
    )
    model_args: Literal["auto", "always"] = Field(
        "auto",
        description="`auto` = tool arguments come from the question by code (dates, names, "
        "words) and the model fills only what code could not; `always` = the model proposes "
        "every tool's arguments, checked against the question (capable models).",
    )


class MailAccount(BaseModel):
    """An IMAP account synced by `mailmind sync`."""

    name: str
    user: str = Field(description="mailmind user the mail belongs to.")
    host: str
    port: int = 993
    tls: bool = Field(True, description="Implicit TLS (IMAPS); see `starttls` for port 143.")
    starttls: bool = Field(False, description="Upgrade a plain connection with STARTTLS.")
    verify_tls: bool = Field(True, description="Verify the server certificate and host name.")
    username: str
    password: SecretStr
    folders: list[str] = Field(
        default_factory=lambda: ["INBOX"], description='Folders to sync; ["*"] = all.'
    )


class DavAccount(BaseModel):
    """A CalDAV / CardDAV account synced by `mailmind sync`."""

    name: str
    user: str
    url: str = Field(description="Server or principal URL (CalDAV and CardDAV share it).")
    username: str
    password: SecretStr
    verify_tls: bool = Field(True, description="Verify the server certificate.")


class SyncSettings(BaseModel):
    """Live sync accounts (JSON lists in the environment)."""

    imap: list[MailAccount] = Field(default_factory=list, description="IMAP accounts.")
    dav: list[DavAccount] = Field(default_factory=list, description="CalDAV/CardDAV accounts.")


class SmtpSettings(BaseModel):
    """Outgoing mail: approved `send_email` / invitation replies are delivered here when set."""

    host: str | None = Field(
        None, description="SMTP server; unset keeps approved mail in the outbox only."
    )
    port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    user: str | None = Field(None, description="SMTP login (unset: no authentication).")
    password: SecretStr | None = Field(None, description="SMTP password.")
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS.")
    from_address: str | None = Field(
        None,
        description="`From` address of sent mail (default: the user's address in their sent "
        "folder, else `<user>@localhost`).",
    )
    timeout_s: float = Field(30.0, gt=0, description="Timeout of one SMTP session.")


class ActionSettings(BaseModel):
    """Side-effecting actions (send, draft, invitation replies, events): approval rules."""

    approval_ttl_s: int = Field(
        900, ge=10, description="A proposed action expires this long after it was proposed."
    )


class ServerSettings(BaseModel):
    """The HTTP service (`mailmind serve`)."""

    host: str = Field("127.0.0.1", description="Interface `mailmind serve` binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port `mailmind serve` binds.")
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest JSON request body; larger ones get 413."
    )
    max_upload_bytes: int = Field(
        200_000_000, ge=1024, description="Largest `POST /v1/ingest` upload (streamed to disk)."
    )
    rate_limit: str = Field(
        "600/minute", description="Requests per API key (`limits` syntax, e.g. `10/second`)."
    )
    generation_queue: int = Field(
        8, ge=0, description="Requests that may wait for the model; more get 503 + Retry-After."
    )
    request_timeout_s: float = Field(
        120.0, gt=0, description="Longest time one request may take before it is cancelled (504)."
    )
    retry_after_s: int = Field(2, ge=1, description="`Retry-After` sent with 503 answers.")
    graceful_shutdown_s: float = Field(
        30.0, gt=0, description="How long shutdown waits for in-flight requests to finish."
    )


class EventSettings(BaseModel):
    """New-mail events: stored mail is indexed, chips and summaries precomputed by workers."""

    backend: Literal["inprocess", "redis"] = Field(
        "inprocess",
        description="`inprocess` = a queue inside the publishing process (`mailmind serve`, "
        "`sync --watch`), handled by a thread there (no services needed); `redis` = Redis "
        "Streams, handled by `mailmind worker` processes.",
    )
    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL for the `redis` backend.")
    stream: str = Field(
        "mailmind:events", description="Stream key (also prefixes the delayed and dead keys)."
    )
    group: str = Field("workers", description="Consumer group the workers share.")
    batch_size: int = Field(16, ge=1, description="Events a worker reads at once.")
    max_attempts: int = Field(
        5, ge=1, description="Deliveries of a failing event before it is dead-lettered."
    )
    backoff_s: float = Field(
        0.5, gt=0, description="First retry delay; doubled per attempt up to `backoff_max_s`."
    )
    backoff_max_s: float = Field(30.0, gt=0, description="Longest retry delay.")
    claim_idle_s: float = Field(
        60.0,
        gt=0,
        description="A delivered event not acked this long is taken over by another worker "
        "(its worker died); keep it above the slowest event's handling time.",
    )
    summaries: Literal["off", "extractive", "model"] = Field(
        "extractive",
        description="Thread summaries precomputed per event: `extractive` (MiniLM, cheap), "
        "`model` (the chat model, as `POST /v1/summarize`) or `off`.",
    )
    watch_poll_s: float = Field(
        60.0,
        gt=0,
        description="`mailmind sync --watch`: longest IDLE wait (or poll interval where the "
        "server lacks IDLE) before folders are checked again.",
    )


class OtelSettings(BaseModel):
    """OpenTelemetry tracing."""

    endpoint: str | None = Field(
        None, description="OTLP/HTTP endpoint for traces; unset keeps spans in memory."
    )
    service_name: str = Field("mailmind", description="`service.name` of exported spans.")


class Settings(BaseSettings):
    """All mailmind configuration."""

    model_config = SettingsConfigDict(
        env_prefix="MAILMIND_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(
        REPO_ROOT / "var", description="Where the store, index and model cache live."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    store: StoreSettings = Field(default_factory=StoreSettings)  # type: ignore[arg-type]
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # type: ignore[arg-type]
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)  # type: ignore[arg-type]
    index: IndexSettings = Field(default_factory=IndexSettings)  # type: ignore[arg-type]
    llm: LLMSettings = Field(default_factory=LLMSettings)  # type: ignore[arg-type]
    agent: AgentSettings = Field(default_factory=AgentSettings)  # type: ignore[arg-type]
    sync: SyncSettings = Field(default_factory=SyncSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)  # type: ignore[arg-type]
    otel: OtelSettings = Field(default_factory=OtelSettings)  # type: ignore[arg-type]
    events: EventSettings = Field(default_factory=EventSettings)  # type: ignore[arg-type]
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)  # type: ignore[arg-type]
    actions: ActionSettings = Field(default_factory=ActionSettings)  # type: ignore[arg-type]
    log_content: bool = Field(
        False, description="Allow mail bodies, subjects and addresses in logs (debugging only)."
    )
    prompts_dir: Path | None = Field(
        None,
        description="Prompt files the REPL and `mailmind prompt` read and save (default: the "
        "packaged `prompts/`).",
    )

    def scratch(self, data_dir: Path) -> Settings:
        """A copy whose data lives under ``data_dir`` only, for throwaway runs (evaluations,
        benchmarks): the store goes back to a SQLite file there, so such a run never writes
        into a configured Postgres database or store file."""
        store = self.store.model_copy(update={"backend": "sqlite", "path": None, "url": None})
        return self.model_copy(update={"data_dir": data_dir, "store": store})

    @property
    def store_path(self) -> Path:
        """SQLite file path (resolved default under the data dir)."""
        return self.store.path or self.data_dir / "mailmind.sqlite3"

    @property
    def model_cache_dir(self) -> Path:
        """Folder holding downloaded and converted model weights."""
        return self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        """Folder holding the embedded Qdrant Edge index (one shard per user)."""
        return self.data_dir / "index"

    @property
    def repl_history_path(self) -> Path:
        """The developer REPL's command history (kept across runs)."""
        return self.data_dir / "repl_history"

    @property
    def quarantine_dir(self) -> Path:
        """Folder holding raw copies of quarantined items."""
        return self.data_dir / "quarantine"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment and ``.env``, with keyword overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
