"""Silence third-party progress bars and chatter unless ``mailmind --verbose``.

transformers and sentence-transformers print a ``Loading weights: 0%…100%`` bar (and advisory
warnings) every time a model loads, i.e. on every command. mailmind's own progress (ingest,
index) is drawn with rich on stderr and is not affected.
"""

from __future__ import annotations

import logging
import os
import sys

#: Environment switches the libraries read when they are imported.
QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def quiet_third_party(verbose: bool = False) -> None:
    """Turn third-party progress output off (``verbose=False``) before any model loads.

    Environment variables cover libraries imported later; libraries already imported are
    switched off through their own APIs. A value the user set explicitly is left alone."""
    if verbose:
        return
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    for name in ("transformers", "sentence_transformers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
