"""A progress bar on stderr for long runs: stdlib only, one line redrawn on a terminal,
a plain line per step elsewhere (so logs stay readable)."""

import sys
import time

WIDTH = 24


class Progress:
    def __init__(self, total, stream=None, enabled=True):
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.redraw = enabled and self.stream.isatty()

    def step(self, text):
        """Say that the next step, described by `text`, starts now."""
        if not self.enabled:
            return
        line = ' '.join(filter(None, (self._bar(), f'{self.done + 1}/{self.total}', self._remaining(), text)))
        if self.redraw:
            self.stream.write('\r\x1b[K' + line)
        else:
            self.stream.write(line + '\n')
        self.stream.flush()
        self.done += 1

    def finish(self):
        if self.redraw:
            elapsed = time.monotonic() - self.started
            self.stream.write(f'\r\x1b[K{self._bar()} {self.total}/{self.total} in {elapsed:.0f} s\n')
            self.stream.flush()

    def interrupted(self, measured):
        if self.redraw:
            self.stream.write('\n')
        self.stream.write(f'interrupted: reporting the {measured} samples measured so far\n')
        self.stream.flush()

    def _bar(self):
        filled = WIDTH * self.done // max(self.total, 1)
        return '[' + '#' * filled + '.' * (WIDTH - filled) + ']'

    def _remaining(self):
        if not self.done:
            return ''
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done)
        return f'~{left // 60:.0f}m{left % 60:02.0f}s left' if left >= 60 else f'~{left:.0f}s left'
