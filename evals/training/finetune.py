"""``mailmind finetune subject-lines``: LoRA on the open chat model, on AESLC train.

1. **Data**: every email of an AESLC-format folder with a usable sender subject (``@subject``,
   reply/forward prefixes removed, at least two letters) - the senders' own lines are the only
   labels AESLC train has. A seeded shuffle picks ``examples`` of them for training and a disjoint
   ``eval_examples`` for the held-out loss; the card records the folder's fingerprint and a hash
   of the ids used.
2. **Inputs** are exactly what serving sends (:mod:`agents.summarize.subject`): the
   ``subject_line`` prompt over the email's opening, through the model's chat template; the loss
   is on the subject tokens and the end-of-turn token only.
3. **Base**: the registered chat model (default SmolLM2-135M-Instruct), dequantized from its GGUF
   by the transformers runtime's converter, fp32 - the weights the llama.cpp runtime serves, so
   the adapter is learned against what users run.
4. **LoRA** (``peft``) on every attention and MLP projection, AdamW, linear warm-up and decay,
   fixed seeds; ``steps`` x ``batch_size`` examples (a CPU schedule by default, see
   :data:`CPU_SCHEDULE`; pass more steps on a GPU).
5. **Output** (``--out``, default ``<data_dir>/models/<name>``, where the registry finds it): the
   adapter, the merged model (safetensors + tokenizer), a GGUF export for the llama.cpp runtime
   when llama.cpp's converter is available (:mod:`evals.training.gguf_export`), and ``card.json``
   with the data fingerprint, hyper-parameters, loss curve, held-out loss before/after, sha256 of
   every file, versions, commit and machine.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from agents.llm.registry import DEFAULT_MODEL, sha256_file
from agents.summarize.subject import clean_subject, subject_prompt
from core.errors import InputError
from core.settings import REPO_ROOT, Settings
from evals.harness.meta import fingerprint, git_state, machine, prompt_versions

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "summaries" / "aeslc_train"
#: Registered name of the tuned model (and its folder under the model cache).
DEFAULT_NAME = "smollm2-135m-subjects"
CARD = "card.json"
#: Marks a model folder the registry lists as a fine-tuned model.
CARD_KIND = "finetune/subject-lines"
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class FinetuneConfig:
    """Hyper-parameters; all of them land in the card."""

    base: str = DEFAULT_MODEL
    name: str = DEFAULT_NAME
    #: Training emails drawn from the folder (a subset: the CPU schedule sees each about once).
    examples: int = 480
    #: Held-out emails (disjoint from training) for the loss before and after.
    eval_examples: int = 64
    steps: int = 60
    batch_size: int = 8
    learning_rate: float = 5e-4
    warmup_steps: int = 5
    weight_decay: float = 0.0
    rank: int = 16
    #: LoRA goes on the top ``layers`` decoder layers only: backpropagation then stops there,
    #: which is most of a CPU step's cost (0 = every layer).
    layers: int = 12
    alpha: int = 32
    dropout: float = 0.05
    max_target_tokens: int = 24
    seed: int = 0
    target_modules: tuple[str, ...] = TARGET_MODULES
    #: Export a GGUF of the merged model for the llama.cpp runtime (``q8_0``, ``f16`` or ``none``).
    gguf: str = "q8_0"
    extra: dict[str, Any] = field(default_factory=dict)


#: What the CLI runs by default on a CPU: 60 steps of 8 emails (each seen once), under an hour on
#: two shared cores. On a GPU pass ``--steps``/``--examples`` for the full schedule.
CPU_SCHEDULE = FinetuneConfig()


@dataclass(frozen=True, slots=True)
class Pair:
    """One training email and its target subject line."""

    id: str
    body: str
    subject: str


def read_pairs(folder: Path) -> list[Pair]:
    """Every email of an AESLC-format folder whose sender subject is usable, sorted by file."""
    from evals.harness.formats import check_aeslc
    from evals.retrieval.datasets import _parse_aeslc

    out: list[Pair] = []
    for path in sorted(check_aeslc(folder, require_annotations=False).glob("*.subject")):
        body, subject, _ = _parse_aeslc(path.read_text(encoding="utf-8", errors="replace"))
        target = clean_subject(subject)
        if body.strip() and sum(c.isalpha() for c in target) >= 2:
            out.append(Pair(path.stem, body, target))
    return out


def split_pairs(pairs: list[Pair], n_train: int, n_eval: int, seed: int) -> tuple[list[Pair], ...]:
    """A seeded shuffle cut into disjoint training and held-out parts."""
    if len(pairs) < n_eval + 1:
        raise InputError(f"need more than {n_eval} usable emails, the folder has {len(pairs)}")
    order = list(pairs)
    random.Random(seed).shuffle(order)
    held = order[:n_eval]
    train = order[n_eval : n_eval + n_train]
    return train, held


def encode(tokenizer: Any, pair: Pair, max_target_tokens: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 on the prompt) for one pair, through the chat template."""
    messages = [{"role": "user", "content": subject_prompt(pair.body)}]
    prompt_ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(prompt_ids, dict) or hasattr(prompt_ids, "input_ids"):
        prompt_ids = prompt_ids["input_ids"]
    target_ids = tokenizer(pair.subject, add_special_tokens=False)["input_ids"][:max_target_tokens]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if not isinstance(end, int) or end == tokenizer.unk_token_id:
        end = tokenizer.eos_token_id
    target_ids = [*target_ids, end]
    return [*prompt_ids, *target_ids], [-100] * len(prompt_ids) + target_ids


def _batch(encoded: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    """Left-padded tensors: every target sits at the end, so logits are needed only there."""
    import torch

    width = max(len(ids) for ids, _ in encoded)
    ids = [[pad_id] * (width - len(a)) + a for a, _ in encoded]
    labels = [[-100] * (width - len(b)) + b for _, b in encoded]
    mask = torch.tensor([[0] * (width - len(a)) + [1] * len(a) for a, _ in encoded])
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": mask,
        "position_ids": (mask.cumsum(-1) - 1).clamp(min=0),
    }


def _tail_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Mean cross-entropy over the target tokens, computing the vocabulary projection for the
    last positions only (the prompt's logits are most of a step's memory and never used)."""
    import torch

    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    labels = batch["labels"]
    keep = int((labels != -100).sum(-1).max()) + 1
    out = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"], logits_to_keep=keep,
    )  # fmt: skip
    logits = out.logits[:, :-1].float()
    target = labels[:, -keep + 1 :]
    n = int((target != -100).sum())
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100
    )
    return loss, n


def _loss(model: Any, encoded: list[tuple[list[int], list[int]]], pad_id: int, bs: int) -> float:
    """Mean per-token loss over ``encoded`` (no gradients)."""
    import torch

    total, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(encoded), bs):
            loss, n = _tail_loss(model, _batch(encoded[i : i + bs], pad_id))
            total += float(loss) * n
            tokens += n
    return round(total / max(tokens, 1), 4)


def _top_layers(model: Any, n: int) -> list[int] | None:
    total = int(model.config.num_hidden_layers)
    return None if n <= 0 or n >= total else list(range(total - n, total))


def _length_batches(order: list[int], lengths: list[int], size: int) -> list[list[int]]:
    """Batches of similar length (sorted inside windows of eight batches), in shuffled order:
    left padding to the longest of a batch is then small."""
    batches: list[list[int]] = []
    window = size * 8
    for start in range(0, len(order) - size + 1, window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + size] for i in range(0, len(chunk) - size + 1, size)]
    return batches


def _ids_hash(pairs: list[Pair]) -> str:
    return hashlib.sha256("\n".join(p.id for p in pairs).encode()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for dist in ("torch", "transformers", "peft"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "missing"
    return out


def finetune_subject_lines(
    data: Path,
    out: Path,
    *,
    settings: Settings,
    config: FinetuneConfig = CPU_SCHEDULE,
    log: Callable[[str], Any] = lambda _m: None,
) -> dict[str, Any]:
    """Train, merge, export and card the subject-line model; returns the card."""
    try:
        import peft
        import torch
    except ImportError as exc:
        raise InputError(
            "fine-tuning needs peft: pip install -c constraints.txt -e '.[eval]'"
        ) from exc
    from transformers import get_linear_schedule_with_warmup

    from agents.llm.registry import ModelRegistry
    from agents.llm.runtimes.transformers import load_model_and_tokenizer
    from evals.training.gguf_export import OUTTYPES

    if config.steps < 1 or config.batch_size < 1 or config.examples < 1:
        raise InputError("steps, batch size and examples must be at least 1")
    if config.gguf not in ("none", *OUTTYPES):
        raise InputError(f"--gguf must be none or one of {', '.join(OUTTYPES)}")
    pairs = read_pairs(data)
    train, held = split_pairs(pairs, config.examples, config.eval_examples, config.seed)
    log(f"{len(pairs)} usable emails; training on {len(train)}, held-out loss on {len(held)}")

    random.seed(config.seed)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    registry = ModelRegistry(settings)
    resolved = registry.resolve(config.base)
    # MAILMIND_LLM__DEVICE=cuda trains on a GPU (the full schedule); fp32 either way.
    device = settings.llm.device
    model, tokenizer, _info = load_model_and_tokenizer(resolved, torch.float32, device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    enc_train = [encode(tokenizer, p, config.max_target_tokens) for p in train]
    enc_held = [encode(tokenizer, p, config.max_target_tokens) for p in held]

    model.train()
    lora = peft.LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), task_type="CAUSAL_LM",
        layers_to_transform=_top_layers(model, config.layers),
    )  # fmt: skip
    model = cast(Any, peft.get_peft_model(model, lora))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    model.eval()
    loss_before = _loss(model, enc_held, pad_id, config.batch_size)
    model.train()
    log(f"LoRA r={config.rank}: {trainable:,} trainable of {total:,}; held-out loss {loss_before}")

    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = get_linear_schedule_with_warmup(optim, config.warmup_steps, config.steps)
    lengths = [len(ids) for ids, _ in enc_train]
    rng = random.Random(config.seed)
    batches: list[list[int]] = []
    curve: list[float] = []
    train_started = time.perf_counter()
    for step in range(1, config.steps + 1):
        if not batches:
            order = list(range(len(enc_train)))
            rng.shuffle(order)
            batches = _length_batches(order, lengths, config.batch_size)
            rng.shuffle(batches)
            if not batches:
                raise InputError(f"batch size {config.batch_size} > {len(enc_train)} examples")
        chunk = [enc_train[i] for i in batches.pop()]
        loss, _n = _tail_loss(model, _batch(chunk, pad_id))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        schedule.step()
        optim.zero_grad(set_to_none=True)
        curve.append(round(float(loss.detach()), 4))
        if step % 10 == 0 or step == config.steps:
            recent = curve[-10:]
            rate = step / (time.perf_counter() - train_started)
            log(f"step {step}/{config.steps}: loss {sum(recent) / len(recent):.3f} "
                f"({rate:.2f} steps/s)")  # fmt: skip
    train_s = time.perf_counter() - train_started
    model.eval()
    loss_after = _loss(model, enc_held, pad_id, config.batch_size)
    log(f"held-out loss {loss_before} -> {loss_after}")

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out / "adapter"))
    merged = model.merge_and_unload()
    merged.save_pretrained(out / "merged")
    tokenizer.save_pretrained(out / "merged")
    files = {
        str(p.relative_to(out)): sha256_file(p)
        for p in sorted((out / "adapter").glob("*.safetensors"))
        + sorted((out / "merged").glob("*.safetensors"))
    }
    commit, dirty = git_state()
    card: dict[str, Any] = {
        "kind": CARD_KIND,
        "name": config.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "base": {"name": resolved.name, "sha256": resolved.spec.sha256,
                 "weights": "dequantized from the GGUF, fp32" if resolved.format == "gguf"
                 else "the Hugging Face folder, fp32"},
        "device": str(device),
        "data": {"path": str(data), "fingerprint": fingerprint(data), "usable": len(pairs),
                 "train": len(train), "held_out": len(held), "train_ids_sha256": _ids_hash(train),
                 "held_out_ids_sha256": _ids_hash(held),
                 "target": "sender subject (@subject), reply/forward prefixes removed"},
        "prompt": prompt_versions(["subject_line"]),
        "hyperparameters": {k: v for k, v in asdict(config).items() if k not in ("name", "extra")}
        | config.extra,
        "parameters": {"trainable": trainable, "total": total},
        "epochs_seen": round(config.steps * config.batch_size / max(len(train), 1), 3),
        "loss": {"held_out_before": loss_before, "held_out_after": loss_after,
                 "train_curve": curve},
        "seconds": {"train": round(train_s, 1), "total": round(time.perf_counter() - started, 1)},
        "files": files,
        "weights": "merged",
        "gguf": {"requested": config.gguf},
        "versions": _versions(),
        "git": {"commit": commit, "dirty": dirty},
        "machine": machine(),
    }  # fmt: skip
    _write_card(out, card)
    if config.gguf != "none":
        card = export_to_gguf(out, outtype=config.gguf, log=log)
    log(f"wrote {out} ({card['seconds']['total']} s)")
    return card


def _write_card(folder: Path, card: dict[str, Any]) -> None:
    tmp = folder / f".{CARD}.tmp"
    tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / CARD)


def export_to_gguf(
    folder: Path, *, outtype: str = "q8_0", log: Callable[[str], Any] = lambda _m: None
) -> dict[str, Any]:
    """Export a tuned model folder's merged weights to GGUF and record it in its card; the
    registry then serves the GGUF (llama.cpp runtime). A failed export leaves the merged model
    registered and says why in the card."""
    from evals.training.gguf_export import export_gguf

    try:
        card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder} is not a fine-tuned model folder (no readable {CARD})") from exc
    target = folder / f"{card['name']}.{outtype.upper()}.gguf"
    result = export_gguf(folder / "merged", target, outtype=outtype, log=log)
    card["gguf"] = {"requested": outtype} | result
    if result.get("ok"):
        card["files"][target.name] = sha256_file(target)
        card["weights"] = target.name
    _write_card(folder, card)
    return card
