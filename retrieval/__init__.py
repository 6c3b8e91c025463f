"""mailmind retrieval package."""
