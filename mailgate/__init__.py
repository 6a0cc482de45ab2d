"""mailgate package."""
