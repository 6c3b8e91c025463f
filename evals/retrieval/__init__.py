"""Retrieval evals: known-item (AESLC), BC3 summary-to-email, and the speed benchmark."""
