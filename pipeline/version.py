"""qcode's version, from the installed package's metadata (a module of its own, below every
other, so that modules can name the version without importing the package root)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qcode")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"
