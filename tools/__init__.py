"""mailmind tools package."""
