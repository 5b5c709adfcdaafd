"""GPU utilisation sampled through NVML, and the agents of a codebase linked to their GPU use."""
