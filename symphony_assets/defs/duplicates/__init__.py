"""Duplicated code: exact copies by blob, near-duplicate Python files, copies diverged across machines."""
