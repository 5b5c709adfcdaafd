"""Dependency declarations and dependency drift of each codebase, per day."""
