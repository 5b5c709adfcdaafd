"""Code-structure assets: work markers, complexity and hotspots, and code findings."""
