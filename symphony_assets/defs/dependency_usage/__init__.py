"""Declared vs imported dependencies per codebase: missing, unused and transitive."""
