"""Summary evaluations: subject lines on AESLC (single-email summarisation)."""
