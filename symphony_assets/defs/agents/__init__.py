"""The agent registry: agents declared in startup configuration against agent files and bound ports."""
