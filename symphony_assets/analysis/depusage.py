"""Declared vs imported dependencies: missing, unused and transitive, with where each mapping came from.

An import names a module (``cv2``), a declaration names a distribution (``opencv-python``). The
bridge, in order of trust: the codebase's own ``module_map`` option, a maintained table of the usual
mismatches (:data:`KNOWN_MODULES`), the installed distributions' metadata where Dagster runs
(``importlib.metadata.packages_distributions``, handed in by the caller), and last the module's own
name normalised (``requests`` -> ``requests``). Every row says which one it used.

Pure: the caller hands in the imports, the declarations, the installed metadata and the codebase's
own top-level module names.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

#: Module -> distributions that provide it, for modules whose name differs from their distribution's.
KNOWN_MODULES: dict[str, tuple[str, ...]] = {
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
            "opencv-contrib-python-headless"),
    "yaml": ("pyyaml",),
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "PIL": ("pillow",),
    "zmq": ("pyzmq",),
    "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",),
    "dotenv": ("python-dotenv",),
    "attr": ("attrs",),
    "serial": ("pyserial",),
    "usb": ("pyusb",),
    "jwt": ("pyjwt",),
    "magic": ("python-magic",),
    "docx": ("python-docx",),
    "pptx": ("python-pptx",),
    "Crypto": ("pycryptodome", "pycrypto"),
    "Cryptodome": ("pycryptodomex",),
    "OpenSSL": ("pyopenssl",),
    "git": ("gitpython",),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "pynvml": ("nvidia-ml-py", "pynvml"),
    "win32api": ("pywin32",),
    "win32con": ("pywin32",),
    "gi": ("pygobject",),
    "mpl_toolkits": ("matplotlib",),
    "pkg_resources": ("setuptools",),
    "fitz": ("pymupdf",),
    "telegram": ("python-telegram-bot",),
    "jose": ("python-jose",),
    "multipart": ("python-multipart",),
    "Levenshtein": ("levenshtein", "python-levenshtein"),
    "faiss": ("faiss-cpu", "faiss-gpu"),
    "ruamel": ("ruamel-yaml",),
    "kafka": ("kafka-python",),
    "google": ("protobuf", "google-api-python-client", "google-cloud-storage", "google-auth"),
    "grpc": ("grpcio",),
    "nacl": ("pynacl",),
    "socks": ("pysocks",),
    "websocket": ("websocket-client",),
    "Xlib": ("python-xlib",),
    "pydantic_settings": ("pydantic-settings",),
    "sentence_transformers": ("sentence-transformers",),
    "llama_cpp": ("llama-cpp-python",),
    "huggingface_hub": ("huggingface-hub",),
    "speech_recognition": ("speechrecognition",),
    "tree_sitter": ("tree-sitter",),
    "tree_sitter_python": ("tree-sitter-python",),
}  # fmt: skip

#: Distributions declared for their commands, not imported: never "unused".
TOOLS = frozenset(
    {
        "pip", "setuptools", "wheel", "build", "twine", "pytest", "pytest-cov", "pytest-timeout",
        "pytest-xdist", "pytest-mock", "pytest-asyncio", "coverage", "ruff", "black", "isort", "flake8",
        "pylint", "mypy",
        "pre-commit", "tox", "nox", "gunicorn", "uvicorn", "hypercorn", "supervisor", "ipython", "jupyter",
        "notebook", "jupyterlab", "ipykernel", "sphinx", "mkdocs", "bandit", "types-pyyaml", "types-requests",
    }
)  # fmt: skip

STATUS_USED = "used"
STATUS_MISSING = "missing"
STATUS_TRANSITIVE = "transitive"
STATUS_UNUSED = "unused"
STATUS_TOOL = "tool"

_NORMALISE = re.compile(r"[-_.]+")


def normalise(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return _NORMALISE.sub("-", name).lower()


@dataclass(frozen=True)
class ImportSite:
    module: str  # the dotted module as written (absolute imports only)
    path: str
    line: int
    kind: str  # module, try, conditional, function, type_checking, main


@dataclass(frozen=True)
class DeclaredPackage:
    package: str  # normalised
    path: str
    line: int


@dataclass(frozen=True)
class UsageRow:
    module: str
    package: str
    status: str
    mapping_source: str
    declared_in: str
    imported_in: str
    import_count: int
    optional: bool
    via_package: str


@dataclass
class _Imported:
    sites: list[ImportSite] = field(default_factory=list)


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def candidates(
    module: str,
    module_map: Mapping[str, str | Sequence[str]],
    installed: Mapping[str, Sequence[str]],
) -> tuple[tuple[str, ...], str]:
    """Distributions that may provide top-level ``module``, and where that answer came from."""
    if module in module_map:
        given = module_map[module]
        names = [given] if isinstance(given, str) else list(given)
        return tuple(normalise(n) for n in names), "config"
    if module in KNOWN_MODULES:
        return tuple(normalise(n) for n in KNOWN_MODULES[module]), "table"
    if module in installed and installed[module]:
        return tuple(sorted({normalise(n) for n in installed[module]})), "installed"
    return (normalise(module),), "same_name"


def _sites_text(sites: Iterable[ImportSite], limit: int = 5) -> str:
    ordered = sorted({(s.path, s.line) for s in sites})
    text = ", ".join(f"{p}:{n}" for p, n in ordered[:limit])
    return text + (f" (+{len(ordered) - limit})" if len(ordered) > limit else "")


def dependency_usage(
    imports: Iterable[ImportSite],
    declared: Iterable[DeclaredPackage],
    own_modules: Iterable[str],
    installed: Mapping[str, Sequence[str]],
    requires: Mapping[str, Iterable[str]],
    module_map: Mapping[str, str | Sequence[str]] | None = None,
    ignore_modules: Iterable[str] = (),
    ignore_packages: Iterable[str] = (),
) -> list[UsageRow]:
    """One row per imported third-party top-level module and per declared distribution nobody imports.

    ``installed``: module -> distributions (``packages_distributions()``); ``requires``: declared
    distribution -> the distributions it pulls in (its installed requirement closure), for
    "transitive"; ``own_modules``: top-level names of the codebase's own modules.
    """
    module_map = module_map or {}
    skip_modules = set(ignore_modules) | set(own_modules) | set(sys.stdlib_module_names) | {"__future__"}
    skip_packages = {normalise(p) for p in ignore_packages}
    by_module: dict[str, _Imported] = {}
    for site in imports:
        top = _top(site.module)
        if not top or top in skip_modules:
            continue
        by_module.setdefault(top, _Imported()).sites.append(site)
    declared_at: dict[str, list[DeclaredPackage]] = {}
    for d in declared:
        if d.package:
            declared_at.setdefault(normalise(d.package), []).append(d)
    pulled_in: dict[str, str] = {}  # distribution -> a declared distribution that requires it
    for root in sorted(declared_at):
        for dep in requires.get(root, ()):
            pulled_in.setdefault(normalise(dep), root)

    rows: list[UsageRow] = []
    used: set[str] = set()
    for module in sorted(by_module):
        sites = by_module[module].sites
        dists, source = candidates(module, module_map, installed)
        optional = all(s.kind in ("try", "conditional", "type_checking", "function", "main") for s in sites)
        hit = next((d for d in dists if d in declared_at), None)
        via = ""
        if hit is not None:
            status, package = STATUS_USED, hit
            used.add(hit)
        else:
            package = dists[0]
            via = next((pulled_in[d] for d in dists if d in pulled_in), "")
            status = STATUS_TRANSITIVE if via else STATUS_MISSING
            if package in skip_packages:
                continue
        declared_text = _declared_text(declared_at.get(package, []))
        rows.append(
            UsageRow(
                module=module,
                package=package,
                status=status,
                mapping_source=source,
                declared_in=declared_text,
                imported_in=_sites_text(sites),
                import_count=len(sites),
                optional=optional,
                via_package=via,
            )
        )
    for package in sorted(declared_at):
        if package in used or package in skip_packages:
            continue
        is_tool = package in TOOLS or package.startswith("types-") or package.endswith("-stubs")
        rows.append(
            UsageRow(
                module=_modules_of(package, installed, module_map),
                package=package,
                status=STATUS_TOOL if is_tool else STATUS_UNUSED,
                mapping_source="declaration",
                declared_in=_declared_text(declared_at[package]),
                imported_in="",
                import_count=0,
                optional=False,
                via_package="",
            )
        )
    return rows


def _declared_text(decls: Sequence[DeclaredPackage]) -> str:
    return ", ".join(sorted({f"{d.path}:{d.line}" for d in decls}))


def _modules_of(
    package: str, installed: Mapping[str, Sequence[str]], module_map: Mapping[str, str | Sequence[str]]
) -> str:
    """The modules a declared distribution is known to provide (for an unused row), else ``""``."""
    found = {m for m, dists in KNOWN_MODULES.items() if package in {normalise(d) for d in dists}}
    found |= {m for m, dists in installed.items() if package in {normalise(d) for d in dists}}
    for m, given in module_map.items():
        names = [given] if isinstance(given, str) else list(given)
        if package in {normalise(n) for n in names}:
            found.add(m)
    return ", ".join(sorted(found))
