"""Builds the one C extension dejunk has, where it can: the network engine's hot path, compiled by Cython.

Everything else about the package is in pyproject.toml. The extension is optional: without Cython
or a C compiler (`gcc` and the Python headers, `python3-dev` on Debian), the build says so and the
package installs with the same module in plain Python, slower but deciding the same way. In a
checkout, `python setup.py build_ext --inplace` builds it beside its source.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HOT_PATH = "filters/network/hotpath.py"
# What filters/network/speed.py compares before it uses the extension: the same files, in the same order.
HOT_PATH_SOURCES = ("filters/network/hotpath.py", "filters/network/hotpath.pxd")
DIGEST_FILE = "hotpath.built-from"


class OptionalBuildExt(build_ext):
    """build_ext that warns and goes on when the extension cannot be compiled."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # no compiler at all (setuptools raises its own error types)
            _warn(error)
            return
        # Beside each extension built (in place or in the build folder the wheel is made from):
        # the digest of the source it was built from, which the engine checks before using it.
        digest = hashlib.sha256()
        for name in HOT_PATH_SOURCES:
            digest.update(Path(name).read_bytes())
        for ext in self.extensions:
            built = Path(self.get_ext_fullpath(ext.name))
            if built.exists():
                built.with_name(DIGEST_FILE).write_text(digest.hexdigest() + "\n", "ascii")

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:  # the compiler failed: missing headers, for instance
            _warn(error)


def _warn(error: Exception, remedy: str = "Install a C compiler and the Python headers (Debian: gcc"
                                          " python3-dev) and reinstall to compile it.") -> None:
    print(f"dejunk: the network hot path is not compiled ({error}); it runs as plain Python, slower but"
          f" deciding the same way. {remedy}", file=sys.stderr)


def _extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("dejunk: Cython is not installed; the network hot path stays plain Python", file=sys.stderr)
        return []
    # annotation_typing off: the source's annotations are for readers, its C types are in hotpath.pxd.
    try:
        return cythonize([HOT_PATH], language_level=3, compiler_directives={"annotation_typing": False},
                         quiet=True)
    except Exception as error:  # Cython refused the source (its message is printed above)
        _warn(error, "Cython refused its source: see the message above.")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
