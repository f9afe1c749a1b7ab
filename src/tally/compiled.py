"""Whether the modules compiled with mypyc (``make``, see mypyc-modules.txt) were compiled
from the sources now in the package.

Python imports an extension module ahead of the ``.py`` file of the same name, so a module
edited after it was compiled would go on running its old code without a word; and compiled
code relies on the types of the modules it calls, so an edit of one of those can break it
too. The build records the SHA-256 of every source of the package (and of the module list
and ``pyproject.toml``), taken before it compiles; importing ``tally`` compares them (about
7 ms for some 200 files) and refuses to start on any difference, naming the command that
compiles again. Content, not file times: a checkout that rewrites a file unchanged is no
reason to rebuild, and a file put back with an old time is.
"""

import hashlib
from pathlib import Path

# Written by the Makefile: ``sha256sum`` lines, paths relative to the package's parent.
RECORD = "compiled-sources.sha256"
_REBUILD = "run `make compiled` to compile again, or `make pure` to run from source"


class StaleBuild(ImportError):
    """Compiled modules that are not the compilation of the package's sources as they are."""


def check(package: Path) -> None:
    """Raise :class:`StaleBuild` unless every extension module under ``package`` was
    compiled from the source beside it, and every source recorded at that build is as it
    was. No extension modules (the plain-Python install): nothing to check."""
    built = sorted(package.rglob("*.so"))
    if not built:
        return
    record = package / RECORD
    if not record.is_file():
        raise StaleBuild(f"compiled modules in {package} without {RECORD}: {_REBUILD}")
    expected: dict[str, str] = {}
    for line in record.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        expected[name.strip()] = digest.strip()
    root = package.parent
    for extension in built:
        # x.cpython-311-x86_64-linux-gnu.so (or x.abi3.so, x.so) compiles x.py.
        source = extension.with_name(extension.name.split(".", 1)[0] + ".py")
        if source.relative_to(root).as_posix() not in expected:
            raise StaleBuild(f"{extension.name}: not a module of the last build; {_REBUILD}")
    for name, digest in expected.items():
        source = root / name
        if not source.is_file() or _digest(source) != digest:
            raise StaleBuild(f"{name} changed since the package was compiled; {_REBUILD}")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
