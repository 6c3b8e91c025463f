"""Runtime on llama.cpp (``llama-cpp-python``), over the same GGUF file, quantized weights as is.

Optional: ``pip install 'mailmind[llamacpp]'`` (it compiles llama.cpp from source). On the
two-core CPU this project targets it decodes SmolLM2-135M Q4_1 ~4x faster than transformers in
bf16, which is why ``auto`` prefers it (numbers: ``mailmind bench llm``).

Like the transformers runtime it drives a token loop itself (``Llama.generate``), so stop
sequences, cancellation, streaming and timings behave identically. JSON-schema output uses
the llguidance token mask inside llama.cpp's sampler chain (see
:mod:`agents.llm.structured` for why), or llama.cpp's GBNF grammar sampler
(``LlamaGrammar.from_json_schema``) when llguidance is not installed.
"""

from __future__ import annotations

import codecs
import importlib.util
import json
import threading
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from agents.llm.decoding import (
    CLOSING_BIAS,
    GatedRuntime,
    GenerationGate,
    StopBuffer,
    closing_token_ids,
    cpu_threads,
)
from agents.llm.registry import ResolvedModel
from agents.llm.structured import JsonConstraint, allowed_tokens, strict_schema
from agents.llm.types import (
    ChatMessage,
    FinishReason,
    GenerationConfig,
    StreamDelta,
    Usage,
)
from core.errors import ConfigError, ModelError
from core.settings import LLMSettings


def llamacpp_available() -> bool:
    """Whether ``llama_cpp`` can be imported (the optional extra is installed)."""
    return importlib.util.find_spec("llama_cpp") is not None


@lru_cache(maxsize=128)
def _grammar(schema_json: str) -> Any:
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(schema_json, verbose=False)
    except Exception as exc:  # the converter raises bare Exceptions / ValueErrors
        raise ModelError(f"JSON schema cannot be turned into a llama.cpp grammar: {exc}") from exc


class LlamaCppRuntime(GatedRuntime):
    """:class:`~agents.llm.types.ChatRuntime` over ``llama_cpp.Llama``.

    A ``Llama`` context is not thread-safe, so generations run one at a time whatever
    ``max_concurrency`` says; other callers wait in the gate's bounded queue.
    """

    kind = "llamacpp"

    def __init__(
        self,
        llm: Any,
        *,
        model_name: str,
        load_info: dict[str, Any] | None = None,
        structured_backend: Literal["auto", "llguidance", "gbnf"] = "auto",
    ) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if structured_backend == "auto":
            has_llg = importlib.util.find_spec("llguidance") is not None
            structured_backend = "llguidance" if has_llg else "gbnf"
        #: ``llguidance`` (token mask, default) or ``gbnf`` (llama.cpp's grammar sampler).
        self.structured_backend = structured_backend
        self._constraint: JsonConstraint | None = None

        self.llm = llm
        self.model_name = model_name
        self.load_info = load_info or {}
        self.gate = GenerationGate(1)
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{model_name}: the GGUF has no chat template")
        self._eos_text = self._token_text(llm.token_eos())
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._eos_text,
            bos_token=self._token_text(llm.token_bos()),
            add_generation_prompt=True,
        )
        self.eos_ids = {llm.token_eos()}
        im_end = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
        if len(im_end) == 1:
            self.eos_ids.add(im_end[0])
        self._closing_ids: np.ndarray | None = None

    @classmethod
    def load(cls, resolved: ResolvedModel, settings: LLMSettings) -> LlamaCppRuntime:
        """Load the GGUF of ``resolved`` (GPU offload when ``settings.device`` is a GPU)."""
        if resolved.format != "gguf":
            raise ConfigError(
                f"the llamacpp runtime needs a GGUF file; {resolved.name} is a Hugging Face "
                "folder: use MAILMIND_LLM__RUNTIME=transformers"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ConfigError(
                "the llamacpp runtime needs llama-cpp-python: pip install 'mailmind[llamacpp]'"
            ) from exc
        started = time.perf_counter()
        gpu = settings.device.startswith(("cuda", "mps", "gpu"))
        llm = Llama(
            model_path=str(resolved.path),
            n_ctx=min(settings.context_length, resolved.spec.context_length),
            n_threads=settings.threads or cpu_threads(),
            n_threads_batch=settings.threads or cpu_threads(),
            n_gpu_layers=-1 if gpu else 0,
            verbose=False,
        )
        info = {"load_s": round(time.perf_counter() - started, 3), "converted": False}
        return cls(llm, model_name=resolved.name, load_info=info)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self.llm.detokenize([token], special=True)).decode("utf-8", errors="replace")

    def _json_constraint(self) -> JsonConstraint:
        if self._constraint is None:
            self._constraint = JsonConstraint.from_llamacpp(self.llm)
        return self._constraint

    def _closing(self) -> np.ndarray:
        if self._closing_ids is None:
            pieces = (
                (i, bytes(self.llm.detokenize([i])).decode("utf-8", errors="replace"))
                for i in range(self.llm.n_vocab())
            )
            self._closing_ids = np.array(closing_token_ids(pieces), dtype=np.int64)
        return self._closing_ids

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of the chat-templated prompt, ending with the assistant header."""
        rendered = self._formatter(messages=list(messages))  # type: ignore[arg-type]
        return list(self.llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=False, special=True))

    def _decode(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        cancel: threading.Event | None,
        started: float,
    ) -> Iterator[StreamDelta]:
        prompt = self.prompt_ids(messages)
        if len(prompt) + config.token_limit > self.llm.n_ctx():
            raise ModelError(
                f"prompt of {len(prompt)} tokens + {config.token_limit} to generate exceeds the "
                f"context of {self.llm.n_ctx()} (MAILMIND_LLM__CONTEXT_LENGTH)"
            )
        out_ids: list[int] = []
        grammar = None
        matcher = None
        processors = None
        if config.json_schema is not None:
            closing = self._closing()
            budget = config.max_tokens
            if self.structured_backend == "llguidance":
                matcher = self._json_constraint().matcher(config.json_schema)
            else:
                grammar = _grammar(json.dumps(strict_schema(config.json_schema)))

            def constrain(_input_ids: Any, scores: np.ndarray) -> np.ndarray:
                # Past the budget, push towards closing the document; the mask (or llama.cpp's
                # grammar sampler, which runs after this) keeps only legal tokens.
                if len(out_ids) >= budget:
                    scores[closing] += CLOSING_BIAS
                if matcher is not None:
                    scores[~allowed_tokens(matcher, scores.shape[0])] = -np.inf
                return scores

            processors = [constrain]
        if config.seed is not None:
            self.llm.set_seed(config.seed)
        elif not config.greedy:
            self.llm.set_seed(int(time.time_ns()) & 0x7FFFFFFF)
        tokens = self.llm.generate(
            prompt,
            top_k=config.top_k,
            top_p=config.top_p,
            min_p=0.0,
            temp=max(config.temperature, 0.0),
            repeat_penalty=1.0,
            reset=True,
            logits_processor=processors,
            grammar=grammar,
        )
        stops = StopBuffer(config.stop)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        usage = Usage(prompt_tokens=len(prompt))
        finish: FinishReason = "length"
        first_token_at = 0.0
        try:
            for token in tokens:
                if not out_ids and not first_token_at:
                    first_token_at = time.perf_counter()
                    usage.time_to_first_token_s = first_token_at - started
                    usage.prefill_s = usage.time_to_first_token_s
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
                if token in self.eos_ids:
                    finish = "stop"
                    break
                out_ids.append(token)
                if matcher is not None and not matcher.consume_token(token):
                    raise ModelError(f"constrained decoding desynchronised: {matcher.get_error()}")
                text += decoder.decode(bytes(self.llm.detokenize([token])))
                delta = stops.feed(text)
                if delta:
                    yield StreamDelta(delta)
                if stops.stopped or (matcher is not None and matcher.is_stopped()):
                    finish = "stop"
                    break
                if len(out_ids) >= config.token_limit:
                    break
        finally:
            # Closing the generator ends llama.cpp's loop now rather than at garbage collection.
            tokens.close()
        text += decoder.decode(b"", final=True)
        usage.completion_tokens = len(out_ids)
        if first_token_at:
            usage.decode_s = time.perf_counter() - first_token_at
        rest = stops.flush(text)
        if config.json_schema is not None and finish == "length":
            raise ModelError(
                f"structured output did not complete within {config.token_limit} tokens; "
                "raise max_tokens"
            )
        yield StreamDelta(rest, finish_reason=finish, usage=usage)

    def close(self) -> None:
        """Free the llama.cpp model and context."""
        if self.llm is not None:
            self.llm.close()
            self.llm = None
