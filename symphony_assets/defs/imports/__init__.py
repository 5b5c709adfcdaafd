"""Import graph and import cycles of each codebase, per day."""
