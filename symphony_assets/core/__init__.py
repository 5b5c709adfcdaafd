"""The bottom layer: partition keys and columns, job and tag names, the clock. Imports nothing of ours,
so every other layer can use it without importing upward."""
