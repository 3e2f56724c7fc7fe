"""Files that must survive a crash: atomic whole-file writes, fsynced appends, and a directory lock; and our
stdout once its reader has gone.

Used by checkpoints, the write-ahead log, the dead letter and file outputs; nothing here knows
about DStreams.
"""
from __future__ import annotations

import fcntl
import os
import sys

from .errors import UsageError


def write_atomically(path: str, data: bytes, mode: int = 0o666) -> None:
    """Write *data* to a temporary file beside *path*, fsync, rename: readers see all of it or nothing."""
    import tempfile  # here, as shutil below: not every run writes files, and start-up is measured

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def write_directory_atomically(path: str, files: dict[str, bytes]) -> None:
    """A directory of *files* that appears whole: written beside *path*, then renamed over any earlier one."""
    import shutil
    import tempfile

    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        for name, data in files.items():
            write_atomically(os.path.join(temporary, name), data)
        os.chmod(temporary, 0o777 & ~_umask())
        if os.path.isdir(path):  # a batch done again after a crash: same contents, replaced whole
            shutil.rmtree(path)
        os.rename(temporary, path)
        fsync_directory(parent)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def remove_tree_or_file(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_directory(directory: str) -> None:
    """Make a file created or renamed in *directory* survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_durably(fd: int, data: bytes, size_before: int) -> None:
    """Append *data* to *fd* whole; if the disk fills part-way, cut the part away so the file stays whole."""
    written = 0
    try:
        while written < len(data):
            written += os.write(fd, data[written:])
    except OSError:
        os.ftruncate(fd, size_before)
        raise


def complete_lines(path: str, truncate: bool = True) -> tuple[bytes, int]:
    """The file's complete lines, and how many bytes followed them: a last line without its newline is a
    write that a crash cut short. With *truncate* it is cut off the file, so the next append starts clean."""
    with open(path, "rb+" if truncate else "rb") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if truncate and end < len(data):
            handle.truncate(end)
    return data[:end], len(data) - end


class DirectoryLock:
    """An exclusive lock on a directory (``DIR/lock``, holding the owner's pid), held until the process ends.

    Two processes writing one checkpoint directory would interleave their write-ahead logs and
    overwrite each other's state; the second one is refused with the first one's pid.
    """

    def __init__(self, directory: str, what: str) -> None:
        path = os.path.join(directory, "lock")
        self._fd: int | None = None
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            self.release()  # once: __del__ runs on this half-made lock too
            raise UsageError(f"{what} {directory} is in use by another dstream (pid {holder}); stop it first, "
                             "or use another directory") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    __del__ = release


def silence_stdout() -> None:
    """The reader of our stdout went away (``| head``): point stdout at /dev/null, so that the final flush and any
    later print cannot fail again, as a Unix filter ends quietly there."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
