"""What one file's imports are: each imported module with the kind of code it runs in, and the
per-file record callers cache by blob id (:meth:`FileImports.to_json` / :meth:`FileImports.from_json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

#: Kinds of import that run while the importing module itself is being imported.
IMPORT_TIME_KINDS: Final = frozenset({"module", "try", "conditional"})
#: Kinds that run later or never at run time: inside a function, for the type checker only, or only
#: when the file is run as a script (``if __name__ == "__main__":``).
LATENT_KINDS: Final = frozenset({"function", "type_checking", "main"})
KINDS: Final = IMPORT_TIME_KINDS | LATENT_KINDS

_JSON_VERSION = 2


@dataclass(frozen=True)
class ImportStmt:
    """One imported module of one import statement (``import a, b`` gives two)."""

    #: The module as written, without leading dots (``""`` for ``from . import x``).
    module: str
    #: Names after ``from ... import`` (``("*",)`` for a star import); ``()`` for ``import x``.
    names: tuple[str, ...]
    #: Number of leading dots; 0 for an absolute import.
    level: int
    line: int
    #: One of :data:`KINDS`.
    kind: str
    #: ``"ast"`` or ``"fallback"`` (the recovering parser, because ``ast.parse`` failed).
    via: str


@dataclass(frozen=True)
class FileImports:
    imports: tuple[ImportStmt, ...]
    parse_error: str | None = None
    parse_error_line: int | None = None
    python2: bool = False
    #: Names the module binds at module level (defs, classes, assignments, imports), so that
    #: ``from pkg import name`` can tell an attribute of ``pkg`` from a submodule that does not exist.
    #: None when the module's namespace is open: a star import, a module ``__getattr__``, writes
    #: through ``globals()``/``sys.modules``/``exec``, or lines that could not be read.
    bindings: tuple[str, ...] | None = None

    @property
    def via(self) -> str:
        return "ast" if self.parse_error is None else "fallback"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data for the per-blob cache; :meth:`from_dict` gives back an equal object."""
        return {
            "v": _JSON_VERSION,
            "imports": [[s.module, list(s.names), s.level, s.line, s.kind, s.via] for s in self.imports],
            "error": self.parse_error,
            "error_line": self.parse_error_line,
            "python2": self.python2,
            "bindings": list(self.bindings) if self.bindings is not None else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> FileImports:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Any) -> FileImports:
        """Rebuild from :meth:`to_dict` output; ``ValueError`` for anything else (e.g. an old version)."""
        if not isinstance(data, dict) or data.get("v") != _JSON_VERSION:
            raise ValueError("not a FileImports payload of this version")
        try:
            return cls._from_payload(data)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed FileImports payload: {exc}") from exc

    @classmethod
    def _from_payload(cls, data: dict[str, Any]) -> FileImports:
        imports = tuple(
            ImportStmt(
                module=str(module),
                names=tuple(str(n) for n in names),
                level=int(level),
                line=int(line),
                kind=str(kind),
                via=str(via),
            )
            for module, names, level, line, kind, via in data["imports"]
        )
        error_line = data.get("error_line")
        bindings = data.get("bindings")
        return cls(
            imports=imports,
            parse_error=data.get("error"),
            parse_error_line=int(error_line) if error_line is not None else None,
            python2=bool(data.get("python2", False)),
            bindings=tuple(str(b) for b in bindings) if bindings is not None else None,
        )
