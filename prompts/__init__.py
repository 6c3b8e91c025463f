"""mailmind prompts package."""
