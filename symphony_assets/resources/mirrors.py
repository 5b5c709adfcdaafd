"""Bare mirrors of codebases given by git URL, kept under ``$SYMPHONY_HOME/mirrors/``.

A codebase whose ``path`` is a URL (``https://``, ``ssh://``, ``git@host:org/repo``, ``file://``) is read
from a bare ``--mirror`` clone: every worker on every machine can read any day of its history from git
objects, and the mirror is only a cache (delete it and the next run clones it again).

Each run fetches the mirror once, with prune, before reading it (a force-pushed branch simply moves:
the mirror's refspec is ``+refs/*:refs/*``). A file lock next to the mirror lets one process at a time
clone or fetch it, so concurrent workers on one machine never fetch into the same repository at once;
the run id written after a fetch lets the other steps of the same run skip theirs.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import git
from filelock import FileLock, Timeout

from symphony_assets.core.git_urls import is_git_url, mirror_path, redact_url  # noqa: F401 - re-exported

if TYPE_CHECKING:  # config imports this module to resolve URLs: no import back at run time
    from symphony_assets.config import Codebase

log = logging.getLogger(__name__)

#: How long a process waits for another one's fetch of the same mirror before giving up.
LOCK_TIMEOUT_S = 900
#: A clone or fetch that takes longer than this is killed (an unreachable host that never answers).
FETCH_TIMEOUT_S = 1800
_STAMP = "symphony-fetched-run"
_USERINFO_SECRET = re.compile(r"(://[^/@:\s]+):[^@/\s]+@")
#: Never ask for a password or a host key: a worker has no terminal, and a prompt would hang the run.
_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}


class MirrorError(RuntimeError):
    """The mirror of a URL codebase cannot be cloned or fetched; the message names the codebase."""


def _git_env() -> dict[str, str]:
    env = dict(_ENV)
    if not os.environ.get("GIT_SSH_COMMAND"):
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=30"
    return env


def _reason(exc: BaseException) -> str:
    if isinstance(exc, git.GitCommandError):
        text = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
        lines = [ln.strip().removeprefix("stderr: ").strip("'").strip() for ln in text.splitlines()]
        lines = [ln for ln in lines if ln]
        return lines[-1] if lines else f"git exited with status {exc.status}"
    return f"{type(exc).__name__}: {exc}"


def refresh_mirror(codebase: Codebase, run_id: str | None = None) -> Path:
    """Clone the mirror of a URL codebase, or fetch it with prune; return its path.

    With ``run_id``, a mirror already fetched by this run (another step, another worker on this
    machine) is not fetched again. Any failure is a :class:`MirrorError` naming the codebase and the URL
    (without credentials).
    """
    if codebase.url is None:
        raise ValueError(f"codebase {codebase.name!r} is not given by URL")
    path = codebase.path
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = path / _STAMP
    lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S)
    shown = redact_url(codebase.url)
    try:
        with lock:
            if run_id is not None and stamp.is_file() and stamp.read_text().strip() == run_id:
                return path
            if (path / "HEAD").is_file():
                repo = git.Repo(path)
                with repo.git.custom_environment(**_git_env()):
                    repo.git.fetch("--prune", "--quiet", "origin", kill_after_timeout=FETCH_TIMEOUT_S)
                log.info("codebase %s: fetched %s into %s", codebase.name, shown, path)
            else:
                _clone(codebase.url, path)
                log.info("codebase %s: mirrored %s into %s", codebase.name, shown, path)
            stamp.write_text(run_id or "")
    except Timeout as exc:
        raise MirrorError(
            f"codebase {codebase.name!r}: another process held the lock on mirror {path} for "
            f"{LOCK_TIMEOUT_S} s"
        ) from exc
    except (git.GitCommandError, git.InvalidGitRepositoryError, OSError) as exc:
        # git's own message may quote the URL, password included: strip every ``user:secret@``.
        reason = _USERINFO_SECRET.sub(r"\1@", _reason(exc))
        raise MirrorError(f"codebase {codebase.name!r}: cannot fetch {shown}: {reason}") from None
    return path


def _clone(url: str, path: Path) -> None:
    """A bare ``--mirror`` clone, made under a temporary name and renamed, so a half-made mirror (a
    killed worker) is never taken for a whole one."""
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    git.Repo.clone_from(
        url,
        partial,
        multi_options=["--mirror", "--quiet"],
        env=_git_env(),
        kill_after_timeout=FETCH_TIMEOUT_S,
    )
    shutil.rmtree(path, ignore_errors=True)
    os.replace(partial, path)
