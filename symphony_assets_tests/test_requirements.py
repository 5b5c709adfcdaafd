"""Requirements/pyproject parsing with packaging, and drift within and across codebases."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from symphony_assets.analysis.requirements import (
    Declaration,
    find_drift,
    is_requirements_file,
    parse_pyproject,
    parse_requirements_file,
    poetry_to_pep440,
)


def tree(root: Path, files: dict[str, str]) -> Callable[[str], bytes | None]:
    """Write real files and return a reader for repo-relative posix paths, counting reads."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")

    def read(rel: str) -> bytes | None:
        path = root / rel
        return path.read_bytes() if path.is_file() else None

    return read


def parse(root: Path, entry: str, files: dict[str, str]) -> list[Declaration]:
    read = tree(root, files)
    data = read(entry)
    assert data is not None
    return parse_requirements_file(entry, data, read)


def only(decls: list[Declaration], name: str) -> Declaration:
    found = [d for d in decls if d.name == name]
    assert len(found) == 1, found
    return found[0]


def test_file_names() -> None:
    for name in ("requirements.txt", "reqs/requirements-dev.txt", "dev-requirements.txt", "requirements.in"):
        assert is_requirements_file(name), name
    assert is_requirements_file("constraints.txt")
    assert not is_requirements_file("README.txt")
    assert not is_requirements_file("MANIFEST.in")


def test_nested_cyclic_and_missing_includes(tmp_path: Path) -> None:
    decls = parse(
        tmp_path,
        "requirements.txt",
        {
            "requirements.txt": """\
                -r reqs/base.txt
                --requirement=reqs/missing.txt
                -c constraints.txt
                top==1.0
                """,
            "reqs/base.txt": """\
                base-pkg>=2
                -r ../common/shared.txt
                """,
            "common/shared.txt": """\
                shared==3.1
                -r ../requirements.txt
                --requirement ../reqs/base.txt
                """,
            "constraints.txt": "top<2\n",
        },
    )
    assert [(d.name, d.file, d.line, d.section) for d in decls if d.kind == "version"] == [
        ("base-pkg", "reqs/base.txt", 1, "requirements"),
        ("shared", "common/shared.txt", 1, "requirements"),
        ("top", "constraints.txt", 1, "constraints"),
        ("top", "requirements.txt", 4, "requirements"),
    ]
    (missing,) = [d for d in decls if d.kind == "error"]
    assert missing.file == "requirements.txt" and missing.line == 2
    assert missing.error == "included file reqs/missing.txt not found"


def test_hashes_continuations_markers_extras_comments_options(tmp_path: Path) -> None:
    decls = parse(
        tmp_path,
        "requirements.txt",
        {
            "requirements.txt": """\
                # pinned by pip-compile
                -i https://pypi.org/simple
                --extra-index-url https://mirror.example/simple
                --trusted-host mirror.example
                numpy==1.26.4 \\
                    --hash=sha256:aaaa \\
                    --hash=sha256:bbbb
                requests[socks,security]>=2.31 ; python_version >= "3.8"  # a comment
                Foo_Bar.Baz ~= 1.4
                """,
        },
    )
    numpy = only(decls, "numpy")
    assert (numpy.specifier, numpy.line, numpy.kind) == ("==1.26.4", 5, "version")
    requests = only(decls, "requests")
    assert requests.extras == ("security", "socks")
    assert requests.marker == 'python_version >= "3.8"'
    assert requests.specifier == ">=2.31"
    foo = only(decls, "foo-bar-baz")
    assert foo.specifier == "~=1.4" and foo.raw == "Foo_Bar.Baz ~= 1.4"
    assert len(decls) == 3


def test_urls_paths_editables_and_invalid_lines(tmp_path: Path) -> None:
    decls = parse(
        tmp_path,
        "requirements.txt",
        {
            "requirements.txt": """\
                -e git+https://github.com/org/tool.git@v1.2#egg=My.Tool[cli]
                -e ./libs/helper
                --editable .
                ./vendor/pkg-1.0-py3-none-any.whl
                https://example.com/archive/pkg-2.0.tar.gz
                git+ssh://git@github.com/org/private.git#egg=private_lib
                named @ https://example.com/named-1.0.zip
                local-thing @ file:///opt/wheels/local_thing-1.0.whl
                not a valid ==== requirement
                --no-such-option x
                -r
                """,
        },
    )
    kinds = [(d.kind, d.name, d.line) for d in decls]
    assert kinds == [
        ("editable", "my-tool", 1),
        ("editable", "helper", 2),
        ("editable", "", 3),
        ("path", "pkg", 4),  # PEP 427: the wheel's file name names its distribution
        ("url", "", 5),
        ("url", "private-lib", 6),
        ("url", "named", 7),
        ("path", "local-thing", 8),
        ("error", "", 9),
        ("error", "", 10),
        ("error", "", 11),
    ]
    assert all(d.specifier == "" for d in decls)
    assert decls[0].extras == ("cli",)
    assert decls[8].error is not None and decls[8].error.startswith("invalid requirement")
    assert decls[9].error == "unknown option --no-such-option"
    # URLs and paths never take part in version drift.
    assert find_drift({"a": decls, "b": decls}) == []


def test_non_utf8_and_binary_never_crash(tmp_path: Path) -> None:
    decls = parse_requirements_file("requirements.txt", b"caf\xe9==1\n\x00\x01\x02\nok==2\n", lambda p: None)
    assert only(decls, "ok").specifier == "==2"
    assert any(d.kind == "error" for d in decls)


def test_pyproject_pep621_and_poetry() -> None:
    content = textwrap.dedent(
        """\
        [project]
        name = "demo"
        dependencies = [
            "Foo.Bar>=1.0",
            "attrs",
            "tool @ git+https://github.com/org/tool.git",
        ]
        [project.optional-dependencies]
        dev = ["pytest==8.0"]

        [tool.poetry.dependencies]
        python = "^3.11"
        requests = "^2.28.1"
        zero = "^0.2.3"
        tilde = "~1.2"
        bare = "1.4.0"
        anything = "*"
        lib = {version = "^1.0", extras = ["x"], markers = "sys_platform == 'linux'"}
        gitdep = {git = "https://github.com/x/y.git"}
        either = "^1.0 || ^2.0"

        [tool.poetry.group.test.dependencies]
        pytest = ">=7.0,<8"
        """
    ).encode()
    decls = parse_pyproject("svc/pyproject.toml", content)
    table = {(d.section, d.name): d for d in decls}
    assert table[("project", "foo-bar")].specifier == ">=1.0"
    assert table[("project", "foo-bar")].line == 4
    assert table[("project", "attrs")].specifier == ""
    assert table[("project", "tool")].kind == "url"
    assert table[("optional:dev", "pytest")].specifier == "==8.0"
    assert table[("poetry:main", "requests")].specifier == "<3,>=2.28.1"
    assert table[("poetry:main", "requests")].line == 13
    assert table[("poetry:main", "zero")].specifier == "<0.3,>=0.2.3"
    assert table[("poetry:main", "tilde")].specifier == "<1.3,>=1.2"
    assert table[("poetry:main", "bare")].specifier == "==1.4.0"
    assert table[("poetry:main", "anything")].specifier == ""
    lib = table[("poetry:main", "lib")]
    assert (lib.specifier, lib.extras, lib.marker) == ("<2,>=1.0", ("x",), 'sys_platform == "linux"')
    assert table[("poetry:main", "gitdep")].kind == "url"
    assert table[("poetry:main", "either")].kind == "error"
    assert table[("poetry:test", "pytest")].specifier == "<8,>=7.0"
    assert ("poetry:main", "python") not in table


def test_invalid_pyproject_is_an_error_row() -> None:
    (row,) = parse_pyproject("pyproject.toml", b"[project\nname=")
    assert row.kind == "error" and row.error is not None and row.error.startswith("invalid TOML")


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", "<2,>=1.2.3"),
        ("^1.2", "<2,>=1.2"),
        ("^1", "<2,>=1"),
        ("^0.2.3", "<0.3,>=0.2.3"),
        ("^0.0.3", "<0.0.4,>=0.0.3"),
        ("^0.0", "<0.1,>=0.0"),
        ("^0", "<1,>=0"),
        ("~1.2.3", "<1.3,>=1.2.3"),
        ("~1", "<2,>=1"),
        ("~=1.2", "~=1.2"),
        ("1.2.*", "==1.2.*"),
        (">=1.2, <1.5", "<1.5,>=1.2"),
        (">=1.2 <1.5", "<1.5,>=1.2"),
        ("*", ""),
    ],
)
def test_poetry_mapping(poetry: str, pep440: str) -> None:
    assert poetry_to_pep440(poetry) == pep440


def test_poetry_caret_drift_against_pip_pin() -> None:
    poetry = parse_pyproject("pyproject.toml", b'[tool.poetry.dependencies]\nrequests = "^2.28"\n')
    pinned = parse_requirements_file("requirements.txt", b"requests==3.0\n", lambda p: None)
    (drift,) = find_drift({"alpha": poetry + pinned})
    assert (drift.status, drift.package, drift.versions) == (
        "unsatisfiable",
        "requests",
        ("<3,>=2.28", "==3.0"),
    )


def decls_of(text: str, file: str = "requirements.txt") -> list[Declaration]:
    return parse_requirements_file(file, textwrap.dedent(text).encode(), lambda p: None)


def test_name_normalisation_makes_one_package() -> None:
    a = decls_of("Foo_Bar==1.0\n")
    b = decls_of("foo.bar==1.0\n", "requirements-dev.txt")
    c = decls_of("FOO-BAR==1.1\n", "extra-requirements.txt")
    assert {d.name for d in a + b + c} == {"foo-bar"}
    (drift,) = find_drift({"alpha": a + b + c})
    assert drift.status == "conflicting_pins"
    assert drift.files == (
        "alpha:extra-requirements.txt:1",
        "alpha:requirements-dev.txt:1",
        "alpha:requirements.txt:1",
    )
    assert drift.versions == ("==1.0", "==1.1")
    # 1.0 and 1.0.0 are the same version under PEP 440: no conflict.
    assert find_drift({"alpha": decls_of("x==1.0\n") + decls_of("x==1.0.0\n", "b.txt")}) == []


def test_two_codebases_with_conflicting_pins() -> None:
    alpha = decls_of("numpy==1.26.4\nrequests>=2.31\npandas==2.2.0\n")
    beta = decls_of("numpy==2.0.1\nrequests==2.30\npandas==2.2.0\n")
    drifts = find_drift({"alpha": alpha, "beta": beta})
    summary = [(d.package, d.status, d.scopes, d.versions, d.cross_scope) for d in drifts]
    assert summary == [
        ("numpy", "conflicting_pins", ("alpha", "beta"), ("==1.26.4", "==2.0.1"), True),
        ("requests", "unsatisfiable", ("alpha", "beta"), ("==2.30", ">=2.31"), True),
    ]


def test_unsatisfiable_ranges_and_satisfiable_ones() -> None:
    def status(*specs: str) -> list[str]:
        decls = [decls_of(f"pkg{spec}\n", f"f{i}.txt")[0] for i, spec in enumerate(specs)]
        return [d.status for d in find_drift({"c": decls})]

    assert status(">=2", "<1.5") == ["unsatisfiable"]
    assert status("~=1.4.5", ">=1.5") == ["unsatisfiable"]
    assert status("!=1.0", ">=1.0,<=1.0") == ["unsatisfiable"]
    assert status("==1.2.*", ">=1.3") == ["unsatisfiable"]
    assert status(">1.0", "<1.0.1") == []
    assert status(">=1.0,<2", "==1.5") == []
    assert status("==1.2.*", "!=1.2.0,>=1.2") == []
    assert status("<1.0", ">0.9") == []
    assert status(">=2.0.0rc1", "<=2.0.0rc2") == []
    # PEP 440: ``<2.0.0`` excludes pre-releases of 2.0.0 itself, so nothing is left.
    assert status(">=2.0.0rc1", "<2.0.0") == ["unsatisfiable"]


def test_pinned_and_unpinned_and_declared_twice() -> None:
    decls = decls_of("attrs\nattrs==23.1\nclick>=8\n")
    drifts = {(d.package, d.status): d for d in find_drift({"alpha": decls})}
    assert set(drifts) == {("attrs", "declared_twice_in_file"), ("attrs", "pinned_and_unpinned")}
    assert drifts[("attrs", "declared_twice_in_file")].files == (
        "alpha:requirements.txt:1",
        "alpha:requirements.txt:2",
    )
    assert drifts[("attrs", "pinned_and_unpinned")].versions == ("(any)", "==23.1")
    # The same package in two pyproject sections is normal, not "declared twice".
    pyproject = parse_pyproject(
        "pyproject.toml", b'[project.optional-dependencies]\ndev = ["pytest>=8"]\ntest = ["pytest>=8"]\n'
    )
    assert find_drift({"alpha": pyproject}) == []


def test_markers_separate_conditional_pins() -> None:
    decls = decls_of(
        """\
        x==1.0; python_version < "3.10"
        x==2.0; python_version >= "3.10"
        y==1.0; sys_platform == "linux"
        y==2.0
        """
    )
    drifts = find_drift({"alpha": decls})
    assert [(d.package, d.status, d.marker) for d in drifts] == [
        ("y", "conflicting_pins", 'sys_platform == "linux"'),
    ]


def test_long_editable_ssh_urls_bzr_launchpad_and_wheel_names(tmp_path: Path) -> None:
    decls = parse(
        tmp_path,
        "requirements.txt",
        {
            "requirements.txt": """\
                --editable git+https://github.com/org/tool.git#egg=Long_Tool
                --editable=./libs/helper
                git@github.com:org/repo.git
                git+git@github.com:org/other.git#egg=other_pkg
                bzr+lp:Project#egg=Project
                ./dist/foo_bar-1.0.2-py3-none-any.whl
                https://files.example.com/Some.Pkg-2.0-1-cp311-cp311-manylinux_2_17_x86_64.whl#sha256=ab
                """,
        },
    )
    assert [(d.kind, d.name, d.line) for d in decls] == [
        ("editable", "long-tool", 1),
        ("editable", "helper", 2),
        ("url", "", 3),  # an SSH location names no package (and never the package ``git``)
        ("url", "other-pkg", 4),
        ("url", "project", 5),
        ("path", "foo-bar", 6),
        ("url", "some-pkg", 7),
    ]
    assert all(d.error is None for d in decls)
