"""The Dagster resource that chooses the tracker findings go to."""

from __future__ import annotations

import os

import dagster as dg

from symphony_assets.config import Codebase
from symphony_assets.resources.tracker.base import Tracker, TrackerError
from symphony_assets.resources.tracker.builtin import BuiltinTracker
from symphony_assets.resources.tracker.github import GitHubTracker

TRACKER_ENV = "SYMPHONY_TRACKER"
GITHUB_REPO_ENV = "SYMPHONY_GITHUB_REPO"
GITHUB_TOKEN_ENV_ENV = "SYMPHONY_GITHUB_TOKEN_ENV"
GITHUB_API_URL_ENV = "SYMPHONY_GITHUB_API_URL"
TRACKER_KINDS = ("builtin", "github")


class TrackerResource(dg.ConfigurableResource):
    """Which tracker findings go to: ``builtin`` (Postgres, the default) or ``github``.

    A codebase may name its own GitHub repository with the option ``tracker: {github_repo: owner/name}``.
    The GitHub token is never part of this config: only the name of the variable holding it.
    """

    kind: str = "builtin"
    github_repo: str | None = None
    github_token_env: str = "GITHUB_TOKEN"
    github_api_url: str = "https://api.github.com"

    @classmethod
    def from_env(cls) -> TrackerResource:
        return cls(
            kind=os.environ.get(TRACKER_ENV) or "builtin",
            github_repo=os.environ.get(GITHUB_REPO_ENV) or None,
            github_token_env=os.environ.get(GITHUB_TOKEN_ENV_ENV) or "GITHUB_TOKEN",
            github_api_url=os.environ.get(GITHUB_API_URL_ENV) or "https://api.github.com",
        )

    def tracker(self, database_url: str, codebase: Codebase | None = None) -> Tracker:
        """The tracker for ``codebase``; ``database_url`` holds the built-in store and the locks."""
        kind = self.kind.strip().lower()
        if kind == "builtin":
            return BuiltinTracker(database_url)
        if kind == "github":
            repo = (codebase.option("tracker", "github_repo") if codebase else None) or self.github_repo
            if not repo:
                raise TrackerError(
                    f"tracker 'github' needs a repository: set {GITHUB_REPO_ENV} or the codebase option "
                    "tracker.github_repo"
                )
            return GitHubTracker(
                str(repo), token_env=self.github_token_env, api_url=self.github_api_url, lock_dsn=database_url
            )
        raise TrackerError(f"unknown tracker {self.kind!r}; choose one of {', '.join(TRACKER_KINDS)}")
