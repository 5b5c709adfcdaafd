"""Cleanup: candidates with reasons, a quarantine executor that can always undo, stale processes."""
