"""Security findings: bandit's rules, secrets-like literals, and sites in files that do not parse."""
