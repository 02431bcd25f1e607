"""Build eloop: compile each eloop/X.py that has an eloop/X.pxd beside it, with Cython.

The .pxd files augment the plain-Python modules with C types ("pure Python mode"), so one source
gives both the readable module and the fast extension. Compiling is an optimisation, never a
requirement: without a C compiler (or if Cython fails) eloop installs as plain Python and says so.
"""

import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# Left in the installed package when compiling failed; `eloop info` prints it.
NOT_COMPILED_NOTE = 'NOT_COMPILED.txt'
COMPILER_DIRECTIVES = {
    'language_level': '3',
    # Keep Python semantics where the plain module and the extension could otherwise differ.
    'binding': True,
    'embedsignature': True,
    # Loops, handles and operations are no more picklable compiled than they are plain.
    'auto_pickle': False,
}


def _warn(message):
    bar = '*' * 78
    print(f'\n{bar}\nWARNING: {message}\neloop is installed as plain Python: it works the same, '
          f'only slower.\n{bar}\n', file=sys.stderr)


def compiled_modules():
    """The eloop/X.py modules that have an augmenting eloop/X.pxd, as dotted names."""
    names = []
    for pxd in sorted(glob.glob(os.path.join(HERE, 'eloop', '*.pxd'))):
        stem = os.path.splitext(os.path.basename(pxd))[0]
        if os.path.exists(os.path.join(HERE, 'eloop', stem + '.py')):
            names.append(f'eloop.{stem}')
    return names


def _source(name):
    """eloop/X.pyx where a module has a C twin (only what must reach the kernel without Python
    objects is written so, beside its plain-Python twin eloop/X.py), else eloop/X.py."""
    path = name.replace('.', '/')
    return path + '.pyx' if os.path.exists(os.path.join(HERE, path + '.pyx')) else path + '.py'


def extensions():
    if os.environ.get('ELOOP_NO_COMPILE', '') not in ('', '0'):
        print('ELOOP_NO_COMPILE is set: eloop is installed as plain Python', file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
        modules = [Extension(name, [_source(name)]) for name in compiled_modules()]
        return cythonize(modules, compiler_directives=COMPILER_DIRECTIVES, quiet=True)
    except Exception as exc:  # Cython missing or refusing the source: install the plain modules
        _warn(f'Cython could not translate eloop to C ({type(exc).__name__}: {exc}).')
        return []


class OptionalBuildExt(build_ext):
    """build_ext that falls back to plain Python when the extensions cannot be compiled.

    All or nothing: the compiled modules import each other's C types, so a half-built set is
    removed rather than installed.
    """

    def run(self):
        # A build directory reused from a failed build still holds its note.
        self._remove_note()
        try:
            super().run()
        except Exception as exc:  # no compiler, CompileError, LinkError, a missing Python.h ...
            self._remove_built_extensions()
            reason = f'the C extensions could not be built ({type(exc).__name__}: {exc}).'
            _warn(reason)
            self._leave_note(reason)

    def _note_path(self):
        return os.path.join(self.build_lib, 'eloop', NOT_COMPILED_NOTE)

    def _leave_note(self, reason):
        """pip shows a successful build's output only with -v: `eloop info` shows this note."""
        note = self._note_path()
        if os.path.isdir(os.path.dirname(note)):
            with open(note, 'w') as file:
                file.write(reason + '\n')

    def _remove_note(self):
        note = self._note_path()
        if os.path.exists(note):
            os.remove(note)

    def _remove_built_extensions(self):
        for path in self.get_outputs():
            if os.path.exists(path):
                os.remove(path)


setup(ext_modules=extensions(), cmdclass={'build_ext': OptionalBuildExt})
