"""mailmind agents package."""
