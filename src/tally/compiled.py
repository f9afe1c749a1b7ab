"""Whether the modules compiled with mypyc (``make``, see mypyc-modules.txt) were compiled
from the sources now beside them.

Python imports an extension module ahead of the ``.py`` file of the same name, so a module
edited after it was compiled would go on running its old code without a word. The build
records the SHA-256 of each compiled module's source next to the package; importing
``tally`` compares them and refuses to start on any difference, naming the command that
compiles again. Content, not file times: a checkout that rewrites a file unchanged is no
reason to rebuild, and an edit that leaves the generated C as it was leaves its extension
module's time as it was too.
"""

import hashlib
from pathlib import Path

# Written by the Makefile after a build: ``sha256sum`` lines, paths relative to src/.
RECORD = "compiled-sources.sha256"
_REBUILD = "run `make compiled` to compile again, or `make pure` to run from source"


class StaleBuild(ImportError):
    """A compiled module that is not the compilation of its source."""


def check(package: Path) -> None:
    """Raise :class:`StaleBuild` unless every extension module under ``package`` was
    compiled from the source file beside it, as it is now. No extension modules (the
    plain-Python install): nothing to check."""
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
        name = source.relative_to(root).as_posix()
        if name not in expected:
            raise StaleBuild(f"{extension.name}: not a module of the last build; {_REBUILD}")
        if not source.is_file() or _digest(source) != expected[name]:
            raise StaleBuild(f"{name} changed since it was compiled; {_REBUILD}")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
