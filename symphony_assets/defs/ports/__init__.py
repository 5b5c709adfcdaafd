"""Port map and port conflicts of each codebase, per day."""
