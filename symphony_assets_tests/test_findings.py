"""Broad excepts, GPU sites and backup files, on parseable and unparseable sources."""

from __future__ import annotations

import json

import pytest

from symphony_assets.analysis.findings import (
    VIA_AST,
    VIA_RECOVERED,
    BroadExcept,
    GpuSite,
    backup_kind,
    blank_merge_markers,
    broad_excepts,
    gpu_sites,
    is_reason,
)

EXCEPTS = """\
import builtins


def run(tasks):
    for task in tasks:
        try:
            task()
        except:  # a plugin may raise anything; one bad plugin must not stop the loop
            pass
        try:
            task()
        except Exception:
            pass
        try:
            task()
        except (ValueError, Exception) as exc:
            print(exc)
        try:
            task()
        except BaseException:
            # shutdown must finish even on KeyboardInterrupt
            raise
        try:
            task()
        except (KeyError, builtins.BaseException, Exception):  # noqa: BLE001
            raise
        try:
            task()
        except Exception:  # noqa: BLE001 - the worker reports and continues
            pass
        try:
            task()
        except (ValueError, KeyError):
            pass
        except mylib.Exception:
            pass
"""

# (line, kind, has_reason) for EXCEPTS, the same by either reader.
EXPECTED = [
    (8, "bare", True),
    (12, "Exception", False),
    (16, "Exception", False),
    (20, "BaseException", True),
    (25, "BaseException", False),
    (29, "Exception", True),
]


def test_broad_except_forms_and_reasons() -> None:
    found = broad_excepts(EXCEPTS.encode())
    assert [(b.line, b.kind, b.has_reason) for b in found] == EXPECTED
    assert {b.via for b in found} == {VIA_AST}


def test_broad_excepts_in_a_python2_file_use_the_fallback() -> None:
    py2 = EXCEPTS.replace("print(exc)", "print exc")
    found = broad_excepts(py2.encode())
    assert [(b.line, b.kind, b.has_reason) for b in found] == EXPECTED
    assert {b.via for b in found} == {VIA_RECOVERED}
    legacy = b"try:\n    x()\nexcept Exception, e:  # log and go on\n    print e\nexcept:\n    pass\n"
    assert [(b.line, b.kind, b.has_reason) for b in broad_excepts(legacy)] == [
        (3, "Exception", True),
        (5, "bare", False),
    ]


def test_broad_excepts_with_merge_markers() -> None:
    src = (
        b"def f():\n"
        b"    try:\n"
        b"        x()\n"
        b"<<<<<<< HEAD\n"
        b"    except Exception:\n"
        b"        log()\n"
        b"=======\n"
        b"    except:  # the other side explains itself\n"
        b"        pass\n"
        b">>>>>>> feature\n"
        b"    return 1\n"
    )
    found = broad_excepts(src)
    assert [(b.line, b.kind, b.has_reason, b.via) for b in found] == [
        (5, "Exception", False, VIA_RECOVERED),
        (8, "bare", True, VIA_RECOVERED),
    ]
    assert blank_merge_markers(src).count(b"\n") == src.count(b"\n")
    assert b"<<<<<<<" not in blank_merge_markers(src)


def test_a_hash_inside_a_string_is_not_a_reason() -> None:
    src = b'try:\n    x()\nexcept Exception: log("# not a reason")\n'
    src += b"try:\n    y()\nexcept Exception:\n    z = (1,  # why: z may be absent\n         2)\n"
    assert [(b.line, b.has_reason) for b in broad_excepts(src)] == [(3, False), (6, True)]


def test_a_reason_must_say_something() -> None:
    assert is_reason("# noqa: BLE001 - plugins may raise anything")
    assert is_reason("# any explanation at all")
    assert not is_reason("# noqa: BLE001")
    assert not is_reason("# noqa")
    assert not is_reason("# type: ignore[misc]")
    assert not is_reason("#")


GPU = """\
import torch as th
import cupy as cp
from torch.cuda import amp
import numpy as np

dev = "cuda:0" if th.cuda.is_available() else "cpu"
gpu = th.device(dev)
cpu = th.device("cpu")


class Model:
    def __init__(self, net, device="cuda"):
        self.device = device
        self.net = net.cuda()

    def forward(self, x):
        x = x.to(self.device)
        y = x.to('cuda:1')
        z = x.to(gpu)
        w = th.zeros(3, device="cuda")
        c = x.to(cpu)
        n = np.zeros(3)
        return cp.asarray(y) + z + w + c + n
"""

GPU_EXPECTED = [
    (2, "cupy_import"),
    (3, "torch_cuda"),
    (6, "torch_cuda"),
    (7, "torch_device"),
    (14, "cuda_call"),
    (17, "to_cuda"),
    (18, "to_cuda"),
    (19, "to_cuda"),
    (20, "device_kwarg"),
    (23, "cupy"),
]


def test_gpu_site_forms() -> None:
    found = gpu_sites(GPU.encode())
    assert [(s.line, s.kind) for s in found] == GPU_EXPECTED
    assert {s.via for s in found} == {VIA_AST}
    assert next(s for s in found if s.line == 18).snippet == "y = x.to('cuda:1')"


def test_gpu_sites_in_an_unparseable_file() -> None:
    broken = GPU + "\nprint 'done'\n<<<<<<< HEAD\n"
    found = gpu_sites(broken.encode())
    assert {s.via for s in found} == {VIA_RECOVERED}
    assert [(s.line, s.kind) for s in found] == GPU_EXPECTED


def test_no_gpu_sites_in_cpu_code_or_strings() -> None:
    src = b'import torch\nx = torch.zeros(3).to("cpu")\ns = "model.cuda() in a string"\n# x.cuda()\n'
    assert gpu_sites(src) == []


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("app/models.py.backup_1753227699", "epoch_copy"),
        ("app/models_1753227699.py", None),
        ("app/models.py.1753227699", "epoch_copy"),
        ("app/models.py.bak", "bak"),
        ("app/models.bak2", "bak"),
        ("notes.txt~", "bak"),
        ("app/models.py.orig", "orig"),
        ("app/routes.py.DEPRECATED", "deprecated"),
        ("_trash_2024/app.py", "trash_folder"),
        ("src/_trash_old/util.py", "trash_folder"),
        ("backup/app.py", "backup_folder"),
        ("src/backups/db.sql", "backup_folder"),
        ("old/script.sh", "backup_folder"),
        ("legacy/api.py", "backup_folder"),
        ("archive/2023/report.py", "backup_folder"),
        ("app/models_old.py", "old_copy"),
        ("app/models-copy.py", "old_copy"),
        ("app/models (copy).py", "old_copy"),
        ("app/config.old", "old_copy"),
        ("db/backup_restore.py", "backup_name"),
        ("app/models.py", None),
        ("app/folder.py", None),
        ("app/bold.py", None),
        ("app/golden/old_values.py", None),
        ("app/archiver.py", None),
        ("", None),
    ],
)
def test_backup_kind(path: str, kind: str | None) -> None:
    assert backup_kind(path) == kind


def test_results_round_trip_through_json() -> None:
    excepts = broad_excepts(EXCEPTS.encode())
    assert [
        BroadExcept.from_dict(d) for d in json.loads(json.dumps([b.to_dict() for b in excepts]))
    ] == excepts
    sites = gpu_sites(GPU.encode())
    assert [GpuSite.from_dict(d) for d in json.loads(json.dumps([s.to_dict() for s in sites]))] == sites


def test_bad_input_does_not_crash() -> None:
    for junk in (bytes(range(256)) * 8, b"\x00\x01def f(:\n", "é = 1\n".encode("utf-16"), b""):
        assert isinstance(broad_excepts(junk), list)
        assert isinstance(gpu_sites(junk), list)


def test_handlers_are_found_in_every_statement_position() -> None:
    """The handler search walks statement lists only; it must still see handlers anywhere
    ``ast.walk`` would: nested defs and classes, else/finally, match cases, ``except*``, loops."""
    import ast

    source = b"""\
class A:
    def m(self):
        for x in y:
            try:
                pass
            except Exception:
                pass
        else:
            while z:
                with ctx:
                    try:
                        pass
                    finally:
                        try:
                            pass
                        except:
                            pass
try:
    pass
except ValueError:
    try:
        pass
    except BaseException:  # the shutdown path must log everything
        pass
else:
    match v:
        case 1:
            try:
                pass
            except (KeyError, Exception):
                pass
try:
    pass
except* Exception:
    pass
if a:
    pass
elif b:
    async def f():
        async with s:
            try:
                pass
            except Exception:
                pass
"""
    found = broad_excepts(source)
    tree = ast.parse(source)
    expected = sorted(n.lineno for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler))
    expected = [line for line in expected if line != 20]  # ``except ValueError`` is not broad
    assert [b.line for b in found] == expected
    assert [b.kind for b in found] == [
        "Exception",
        "bare",
        "BaseException",
        "Exception",
        "Exception",
        "Exception",
    ]
    assert [b.has_reason for b in found] == [False, False, True, False, False, False]
