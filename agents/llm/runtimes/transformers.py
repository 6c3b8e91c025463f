"""Runtime on Hugging Face transformers (PyTorch), CPU or GPU.

Loading a GGUF through transformers dequantizes every tensor (~18-35 s for SmolLM2-135M on two
cores), and transformers refuses ``save_pretrained`` on a GGUF-loaded model. So the first load
builds a plain model from the same config, copies the dequantized state dict in, and saves that as
safetensors under ``<model cache>/<name>/hf-<dtype>/`` together with the tokenizer and chat
template; every later load reads that folder in well under a second.

Decoding is a manual loop over the KV cache rather than ``model.generate``: one place to apply the
JSON-schema token mask, stop sequences, cancellation between tokens and streaming, with no worker
thread per request.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.llm.decoding import (
    CLOSING_BIAS,
    GatedRuntime,
    GenerationGate,
    StopBuffer,
    closing_token_ids,
    cpu_threads,
)
from agents.llm.registry import ResolvedModel, sha256_file
from agents.llm.structured import JsonConstraint, allowed_tokens
from agents.llm.types import (
    ChatMessage,
    FinishReason,
    GenerationConfig,
    StreamDelta,
    Usage,
)
from core.errors import ModelError
from core.settings import LLMSettings

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: Bumped when the conversion format changes, so stale caches are rebuilt.
_CONVERSION_VERSION = 1


def _torch_dtype(name: str, device: str) -> torch.dtype:
    import torch

    if name == "auto":
        # bf16 halves the bytes read per token, which is what bounds decoding here: 23 tok/s
        # against 16 for fp32 on two CPU cores; on GPUs it is the native fast path.
        name = "float32" if device.startswith("mps") else "bfloat16"
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _gguf_fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"file": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def convert_gguf(resolved: ResolvedModel, dtype: torch.dtype, target: Path) -> None:
    """Dequantize a GGUF once and save it as a safetensors model folder at ``target``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, filename = str(resolved.path.parent), resolved.path.name
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    # fp32 keeps the dequantized values exact; the cast to ``dtype`` happens once, below.
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = loaded.config
    # The GGUF quantizer config would make the saved folder load through the GGUF path again.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=dtype)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    # A tied lm_head is legitimately absent from the state dict.
    if unexpected or [k for k in missing if not k.startswith("lm_head")]:
        raise ModelError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    if getattr(config, "tie_word_embeddings", False):
        plain.tie_weights()
    plain.generation_config = loaded.generation_config
    del loaded
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        meta = {
            "version": _CONVERSION_VERSION,
            "gguf": _gguf_fingerprint(resolved.path),
            "gguf_sha256": resolved.spec.sha256,
            "dtype": _dtype_name(dtype),
            "seconds": round(time.perf_counter() - started, 2),
        }
        (tmp / "conversion.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            # Another process converted concurrently and won the rename: use theirs.
            if not (target / "conversion.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def conversion_is_current(resolved: ResolvedModel, folder: Path) -> bool:
    """Whether ``folder`` holds a conversion of exactly this GGUF file."""
    try:
        meta = json.loads((folder / "conversion.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta.get("version") != _CONVERSION_VERSION:
        return False
    if meta.get("gguf") == _gguf_fingerprint(resolved.path):
        return True
    # Same bytes under a new mtime (re-pulled): accept after one hash.
    sha = resolved.spec.sha256
    return sha is not None and meta.get("gguf_sha256") == sha and sha256_file(resolved.path) == sha


def load_model_and_tokenizer(
    resolved: ResolvedModel, dtype: torch.dtype, device: str
) -> tuple[Any, Any, dict[str, Any]]:
    """Load ``resolved`` (converting a GGUF on first use); returns model, tokenizer, info."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info: dict[str, Any] = {"converted": False}
    if resolved.format == "gguf":
        folder = resolved.cache_dir / f"hf-{_dtype_name(dtype)}"
        if not conversion_is_current(resolved, folder):
            log.info("converting %s to safetensors in %s (once)", resolved.path, folder)
            started = time.perf_counter()
            convert_gguf(resolved, dtype, folder)
            info["converted"] = True
            info["convert_s"] = round(time.perf_counter() - started, 2)
    else:
        folder = resolved.path
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, device_map=device)
    model.eval()
    info["load_s"] = round(time.perf_counter() - started, 3)
    info["folder"] = str(folder)
    return model, tokenizer, info


class TransformersRuntime(GatedRuntime):
    """:class:`~agents.llm.types.ChatRuntime` over a transformers causal LM."""

    kind = "transformers"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_name: str,
        max_concurrency: int = 1,
        load_info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.load_info = load_info or {}
        self.gate = GenerationGate(max_concurrency)
        self.device = next(model.parameters()).device
        self.vocab_size = int(model.config.vocab_size)
        self.eos_ids = self._eos_ids()
        self._constraint: JsonConstraint | None = None
        self._closing_ids: list[int] | None = None
        self._init_lock = threading.Lock()

    @classmethod
    def load(cls, resolved: ResolvedModel, settings: LLMSettings) -> TransformersRuntime:
        """Load ``resolved`` with the dtype, device and threads from ``settings``."""
        import torch

        if settings.device == "cpu":
            # Process-wide in torch; see cpu_threads for why one core is left free.
            torch.set_num_threads(settings.threads or cpu_threads())
        device = settings.device
        dtype = _torch_dtype(settings.dtype, device)
        model, tokenizer, info = load_model_and_tokenizer(resolved, dtype, device)
        return cls(
            model,
            tokenizer,
            model_name=resolved.name,
            max_concurrency=settings.max_concurrency,
            load_info=info,
        )

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.tokenizer.eos_token_id, self.model.generation_config.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list):
                ids.update(source)
        # ChatML templates end a turn with <|im_end|>, sometimes not declared as EOS.
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            ids.add(im_end)
        return ids

    # -- structured output --------------------------------------------------------------------

    def _json_constraint(self) -> JsonConstraint:
        with self._init_lock:
            if self._constraint is None:
                self._constraint = JsonConstraint.from_hf_tokenizer(self.tokenizer, self.vocab_size)
            return self._constraint

    def _closing(self) -> list[int]:
        with self._init_lock:
            if self._closing_ids is None:
                pieces = self.tokenizer.batch_decode([[i] for i in range(self.vocab_size)])
                self._closing_ids = closing_token_ids(enumerate(pieces))
            return self._closing_ids

    # -- generation ---------------------------------------------------------------------------

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of the chat-templated prompt, ending with the assistant header."""
        encoded = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_dict=True
        )
        return list(encoded["input_ids"])

    def _decode(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        cancel: threading.Event | None,
        started: float,
    ) -> Iterator[StreamDelta]:
        import torch
        from transformers import DynamicCache

        prompt = self.prompt_ids(messages)
        matcher = None
        closing: torch.Tensor | None = None
        if config.json_schema is not None:
            matcher = self._json_constraint().matcher(config.json_schema)
            closing = torch.tensor(self._closing(), dtype=torch.long, device=self.device)
        generator = None
        if not config.greedy:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(config.seed if config.seed is not None else int(time.time_ns()))
        stops = StopBuffer(config.stop)
        usage = Usage(prompt_tokens=len(prompt))
        out_ids: list[int] = []
        finish: FinishReason = "length"
        first_token_at = 0.0
        with torch.inference_mode():
            cache = DynamicCache(config=self.model.config)
            input_ids = torch.tensor([prompt], device=self.device)
            prefill_started = time.perf_counter()
            logits = self.model(
                input_ids=input_ids, cache=cache, use_cache=True, logits_to_keep=1
            ).logits[0, -1]
            usage.prefill_s = time.perf_counter() - prefill_started
            while len(out_ids) < config.token_limit:
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
                logits = logits.float()
                if matcher is not None:
                    if closing is not None and len(out_ids) >= config.max_tokens:
                        logits[closing] += CLOSING_BIAS
                    logits = self._mask(logits, matcher)
                token = self._sample(logits, config, generator)
                if not out_ids:
                    first_token_at = time.perf_counter()
                    usage.time_to_first_token_s = first_token_at - started
                if token in self.eos_ids:
                    finish = "stop"
                    break
                out_ids.append(token)
                if matcher is not None and not matcher.consume_token(token):
                    raise ModelError(f"constrained decoding desynchronised: {matcher.get_error()}")
                text = self.tokenizer.decode(out_ids, skip_special_tokens=True)
                delta = stops.feed(text)
                if delta:
                    yield StreamDelta(delta)
                if stops.stopped or (matcher is not None and matcher.is_stopped()):
                    finish = "stop"
                    break
                logits = self.model(
                    input_ids=torch.tensor([[token]], device=self.device),
                    cache=cache,
                    use_cache=True,
                ).logits[0, -1]
        text = self.tokenizer.decode(out_ids, skip_special_tokens=True)
        rest = stops.flush(text)
        usage.completion_tokens = len(out_ids)
        if first_token_at:
            usage.decode_s = time.perf_counter() - first_token_at
        if matcher is not None and finish != "cancelled" and not matcher.is_accepting():
            raise ModelError(
                f"structured output did not complete within {config.token_limit} tokens; "
                "raise max_tokens"
            )
        yield StreamDelta(rest, finish_reason=finish, usage=usage)

    def _mask(self, logits: torch.Tensor, matcher: Any) -> torch.Tensor:
        import torch

        allowed = allowed_tokens(matcher, int(logits.shape[-1]))
        mask = torch.from_numpy(allowed).to(logits.device)
        return logits.masked_fill(~mask, float("-inf"))

    @staticmethod
    def _sample(
        logits: torch.Tensor, config: GenerationConfig, generator: torch.Generator | None
    ) -> int:
        import torch

        if config.greedy or generator is None:
            return int(torch.argmax(logits).item())
        logits = logits / config.temperature
        if config.top_k > 0:
            kth = torch.topk(logits, min(config.top_k, logits.shape[-1])).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if config.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            # Keep the smallest prefix whose mass reaches top_p (always at least one token).
            drop = torch.cumsum(sorted_probs, dim=-1) - sorted_probs > config.top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
        return int(torch.multinomial(probs, 1, generator=generator).item())

    def close(self) -> None:
        """Drop the weights."""
        self.model = None
        self._constraint = None
