"""mailmind api package."""
