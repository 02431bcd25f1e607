"""ELOOP_PURE=1: import eloop's plain-Python modules even where compiled ones are installed.

The import system prefers an extension module to a source file of the same name, so the compiled
core would always win. This finder answers first for eloop's own submodules, from source.
"""

import importlib.machinery
import sys


class _SourceFirstFinder:
    def __init__(self, package, directory):
        self._prefix = package + '.'
        self._finder = importlib.machinery.FileFinder(
            directory, (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES))

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self._prefix) or '.' in fullname[len(self._prefix):]:
            return None
        return self._finder.find_spec(fullname, target)

    def invalidate_caches(self):
        self._finder.invalidate_caches()


def prefer_source_modules(package, directory):
    if not any(isinstance(f, _SourceFirstFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirstFinder(package, directory))


def is_compiled(module):
    """True if `module` was loaded from a compiled extension."""
    return isinstance(getattr(module, '__loader__', None), importlib.machinery.ExtensionFileLoader)
