"""Mine smart-reply candidates from real sent replies (the Enron maildir by default).

What it does (``python -m evals.smart_reply.mine [ROOT] [--json] [--max-words N]``):

1. Reads every message in the sent folders (``_sent_mail``, ``sent``, ``sent_items``) and the
   other folders of each mailbox under ROOT, parsed by mailmind's own parser (so ``new_text`` is
   the reply without quotes and signature).
2. Keeps *short replies with their parent present*: the subject is a reply ("RE: x") and the
   parent is either in the same mailbox (a message whose normalised subject is "x") or quoted
   in the reply's body (the body is longer than the new text), and the new text has at most
   ``--max-words`` words.
3. Deduplicates (the three sent folders of one mailbox overlap), embeds the replies with the
   packaged MiniLM and clusters them (agglomerative, cosine, average linkage).
4. Prints each cluster with its size, a keyword-guessed intent and example texts, then totals.

The output is for a human curator: ``agents/smart_reply/responses.yaml`` holds the curated set,
rewritten in our own words, with the counts from this script in its header. No mined text is
ever written into the repository by this script.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ParseError
from core.settings import REPO_ROOT

SENT_FOLDERS = ("_sent_mail", "sent", "sent_items")
DEFAULT_ROOT = REPO_ROOT.parent / "shared" / "data" / "mail" / "enron_maildir"

# Keyword guesses, only to label clusters for the curator (first match wins).
_INTENT_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("thanks", re.compile(r"\b(thanks|thank you|thx|appreciate)\b", re.I)),
    ("decline", re.compile(r"\b(can'?t|cannot|unable|won'?t be able|no thanks|pass)\b", re.I)),
    ("accept", re.compile(r"\b(sounds good|works for me|fine|ok(ay)?|sure|yes|great)\b", re.I)),
    ("will_do", re.compile(r"\b(will do|i'?ll|i will|on it)\b", re.I)),
    ("question", re.compile(r"\?\s*$", re.M)),
    ("defer", re.compile(r"\b(later|get back|let me check|next week|tomorrow)\b", re.I)),
    ("fyi_forward", re.compile(r"\b(fyi|see (below|attached)|attached)\b", re.I)),
)


@dataclass(slots=True)
class MinedReply:
    """One short sent reply whose parent was found."""

    mailbox: str
    text: str
    parent_subject: str
    parent_via: str  # "subject" (parent in the mailbox) or "quote" (quoted in the body)


_SALUTATION = re.compile(r"^(?:hi|hello|dear)?\s*[A-Z][a-z]+(?: [A-Z][a-z]+)?\s*[,:-]\s+")
_INITIALS = re.compile(r"\s+[A-Z]{2,4}$")


def clean_reply(text: str, sender_name: str) -> str:
    """One-line reply text without the greeting and the sender's sign-off name.

    Those carry no intent and would make clusters group by person instead of by meaning.
    """
    text = " ".join(text.split())
    text = _SALUTATION.sub("", text, count=1)
    names = {t.lower() for t in re.findall(r"[A-Za-z]+", sender_name) if len(t) > 1}
    words = text.split()
    while words and words[-1].strip(".,!").lower() in names:
        words.pop()
    text = _INITIALS.sub("", " ".join(words))
    return text.strip()


def _files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob("*") if p.is_file())


def guess_intent(text: str) -> str:
    """A keyword label for a reply (for the curator's overview, not for the product)."""
    for intent, pattern in _INTENT_HINTS:
        if pattern.search(text):
            return intent
    return "other"


def mine_replies(root: Path, *, max_words: int = 25) -> tuple[list[MinedReply], Counter[str]]:
    """Short sent replies with their parent present, deduplicated; plus funnel counts."""
    from retrieval.sources.mail.parse import parse_message

    counts: Counter[str] = Counter()
    replies: list[MinedReply] = []
    seen: set[tuple[str, str]] = set()
    for mailbox in sorted(p for p in root.iterdir() if p.is_dir()):
        subjects: set[str] = set()
        sent: list[Any] = []
        for folder in sorted(p for p in mailbox.iterdir() if p.is_dir()):
            is_sent = folder.name in SENT_FOLDERS
            for path in _files(folder):
                try:
                    msg = parse_message(path.read_bytes())
                except ParseError:
                    counts["unparseable"] += 1
                    continue
                if is_sent:
                    counts["sent_messages"] += 1
                    sent.append(msg)
                else:
                    subjects.add(msg.normalized_subject.lower())
        for msg in sent:
            if not msg.subject_is_reply:
                continue
            counts["sent_replies"] += 1
            # Enron senders often have no display name: the address's local part has it.
            sender = f"{msg.sender.name} {msg.sender.email.split('@')[0]}" if msg.sender else ""
            text = clean_reply(msg.new_text, sender)
            n_words = len(text.split())
            # Lotus Notes header debris ("09:02 AM -----") has no words worth suggesting.
            if n_words > max_words or len(re.findall(r"[A-Za-z]{2,}", text)) < 2:
                continue
            counts["short_replies"] += 1
            in_mailbox = msg.normalized_subject.lower() in subjects
            quoted = len(msg.body_text.strip()) > len(msg.new_text.strip()) + 40
            if not (in_mailbox or quoted):
                continue
            counts["with_parent"] += 1
            key = (text.lower(), msg.normalized_subject.lower())
            if key in seen:
                counts["duplicates"] += 1
                continue
            seen.add(key)
            replies.append(
                MinedReply(
                    mailbox.name, text, msg.normalized_subject, "subject" if in_mailbox else "quote"
                )
            )
    counts["kept"] = len(replies)
    return replies, counts


def cluster(texts: list[str], *, threshold: float = 0.5) -> list[int]:
    """Cluster labels of ``texts`` (MiniLM embeddings, cosine distance, average linkage)."""
    from sklearn.cluster import AgglomerativeClustering

    from core.settings import EmbeddingSettings
    from retrieval.index.embeddings import load_embedder

    if len(texts) < 2:
        return [0] * len(texts)
    vectors = load_embedder(EmbeddingSettings()).embed(texts)  # type: ignore[call-arg]
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
    )
    return [int(label) for label in model.fit_predict(vectors)]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints clusters (or one JSON object with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--max-words", type=int, default=25)
    parser.add_argument("--threshold", type=float, default=0.5, help="cosine distance cut")
    parser.add_argument("--min-size", type=int, default=3, help="smallest cluster printed")
    parser.add_argument("--examples", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="counts and cluster sizes only")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"no maildir at {args.root}", file=sys.stderr)
        return 2
    replies, counts = mine_replies(args.root, max_words=args.max_words)
    labels = cluster([r.text for r in replies], threshold=args.threshold)
    groups: dict[int, list[MinedReply]] = defaultdict(list)
    for cluster_id, reply in zip(labels, replies, strict=True):
        groups[cluster_id].append(reply)
    ordered = sorted(groups.values(), key=len, reverse=True)
    big = [g for g in ordered if len(g) >= args.min_size]
    intents = Counter(guess_intent(r.text) for r in replies)
    summary: dict[str, object] = {
        "root": str(args.root),
        "funnel": dict(counts),
        "parent_via": dict(Counter(r.parent_via for r in replies)),
        "clusters": len(ordered),
        "clusters_min_size": len(big),
        "in_clusters_min_size": sum(len(g) for g in big),
        "cluster_sizes": [len(g) for g in big],
        "guessed_intents": dict(intents.most_common()),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for number, group in enumerate(big):
        label = Counter(guess_intent(r.text) for r in group).most_common(1)[0][0]
        print(f"\n## cluster {number}: {len(group)} replies, mostly {label}")
        for reply in group[: args.examples]:
            print(f"   - {reply.text[:100]!r}  (re: {reply.parent_subject[:40]!r})")
    print("\n" + json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
