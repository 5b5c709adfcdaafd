"""Build real git repositories in temp dirs, with commits on chosen dates and authors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitRepo:
    def __init__(self, root: Path, branch: str = "main") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)
        self.git("config", "user.name", "Test Author")
        self.git("config", "user.email", "test@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
        full_env = {**os.environ, **(env or {})}
        out = subprocess.run(
            ["git", *args], cwd=self.root, env=full_env, input=input, capture_output=True, check=True
        )
        return out.stdout.decode("utf-8", "replace")

    def write(self, rel: str | bytes, content: str | bytes = "") -> Path:
        path = Path(os.fsdecode(rel))
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        full.write_bytes(data)
        return full

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink()

    def commit(
        self,
        message: str = "change",
        when: str = "2024-06-01T12:00:00+00:00",
        author: str = "Test Author <test@example.com>",
        add_all: bool = True,
    ) -> str:
        if add_all:
            self.git("add", "-A")
        name, _, email = author.partition(" <")
        env = {
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email.rstrip(">"),
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email.rstrip(">"),
        }
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def ls_tree(self, rev: str = "HEAD") -> list[str]:
        out = subprocess.run(
            ["git", "ls-tree", "-r", "-z", "--name-only", rev], cwd=self.root, capture_output=True, check=True
        ).stdout
        return sorted(os.fsdecode(p) for p in out.split(b"\0") if p)
