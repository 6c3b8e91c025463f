"""mailmind evals package."""
