"""The modules of mypyc-modules.txt run compiled (``make``), and a compiled module whose source
changed since is refused instead of run (tally.compiled)."""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path

import pytest

from tally.compiled import RECORD, StaleBuild, check

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = ".cpython-311-x86_64-linux-gnu.so"


def listed_modules() -> list[str]:
    lines = (ROOT / "mypyc-modules.txt").read_text(encoding="utf-8").splitlines()
    paths = [line.split("#", 1)[0].strip() for line in lines]
    return [path.removesuffix(".py").replace("/", ".") for path in paths if path]


def test_the_listed_modules_run_compiled_unless_set_up_pure() -> None:
    modules = listed_modules()
    assert "tally.core.discounts" in modules
    pure = os.environ.get("TALLY_PURE_PYTHON") == "1"
    for name in modules:
        origin = importlib.import_module(name).__file__ or ""
        # `make` compiles every listed module; with TALLY_PURE_PYTHON=1 it compiles none.
        assert origin.endswith(".py") if pure else origin.endswith(".so"), (name, origin)


def _package(tmp_path: Path) -> Path:
    """A package ``pkg`` with one module compiled from its source, as the Makefile leaves
    it: the extension module beside ``a.py`` and the record of ``a.py``'s hash."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("X = 1\n")
    (package / f"a{SUFFIX}").write_bytes(b"\x7fELF")
    digest = hashlib.sha256(b"X = 1\n").hexdigest()
    (package / RECORD).write_text(f"{digest}  pkg/a.py\n")
    return package


def test_a_build_of_the_sources_as_they_are_is_accepted(tmp_path: Path) -> None:
    check(_package(tmp_path))


def test_a_package_with_nothing_compiled_needs_no_record(tmp_path: Path) -> None:
    package = tmp_path / "plain"
    package.mkdir()
    (package / "a.py").write_text("X = 1\n")
    check(package)


def test_a_source_changed_since_it_was_compiled_is_refused(tmp_path: Path) -> None:
    package = _package(tmp_path)
    (package / "a.py").write_text("X = 2\n")
    with pytest.raises(StaleBuild, match=r"pkg/a\.py changed since the package was compiled"):
        check(package)


def test_a_changed_source_that_is_not_compiled_is_refused_too(tmp_path: Path) -> None:
    # Compiled code relies on the types of the plain modules it calls.
    package = _package(tmp_path)
    (package / "b.py").write_text("def f() -> int:\n    return 1\n")
    digest = hashlib.sha256((package / "b.py").read_bytes()).hexdigest()
    with (package / RECORD).open("a") as record:
        record.write(f"{digest}  pkg/b.py\n")
    check(package)
    (package / "b.py").write_text("def f() -> str:\n    return ''\n")
    with pytest.raises(StaleBuild, match=r"pkg/b\.py changed since the package was compiled"):
        check(package)


def test_a_compiled_module_whose_source_is_gone_is_refused(tmp_path: Path) -> None:
    package = _package(tmp_path)
    (package / "a.py").unlink()
    with pytest.raises(StaleBuild, match=r"pkg/a\.py changed since the package was compiled"):
        check(package)


def test_a_compiled_module_the_record_does_not_name_is_refused(tmp_path: Path) -> None:
    package = _package(tmp_path)
    sub = package / "sub"
    sub.mkdir()
    (sub / "b.py").write_text("Y = 1\n")
    (sub / f"b{SUFFIX}").write_bytes(b"\x7fELF")
    with pytest.raises(StaleBuild, match=f"b{SUFFIX}: not a module of the last build"):
        check(package)


def test_compiled_modules_without_a_record_are_refused(tmp_path: Path) -> None:
    package = _package(tmp_path)
    (package / RECORD).unlink()
    with pytest.raises(StaleBuild, match=f"without {RECORD}"):
        check(package)
