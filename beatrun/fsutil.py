"""Files from outside and files we write, in one place.

Reading: every command that opens a user's file checks it with
:func:`check_input_file` (a regular file, or a clear one-line reason: missing,
a folder, a FIFO or device, a symlink loop, permission denied) and reads text
and small binary files through :func:`read_bounded` / :func:`read_text`, which
never block on a FIFO and never read more than a stated limit.

Writing: :func:`atomic_write` writes a temporary file in the same folder,
flushes and fsyncs it, gives it the permissions a new file would get under the
user's umask (or the existing file's, or 0600 for secrets), renames it over
the target and fsyncs the folder: an interrupted write leaves the old file
whole. Standard library only; works on Windows (no ``fchmod``).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from beatrun.errors import BeatrunError

#: Suffix of beatrun's temporary files (a later run may clean up leftovers).
TMP_SUFFIX = ".beatrun-tmp"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def os_reason(exc: OSError) -> str:
    """A short reason for an OSError ("permission denied", "a symlink loop", ...)."""
    if exc.errno == errno.ELOOP:
        return "a symlink loop (or too many levels of symlinks)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "does not exist"
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is not a folder"
    return (exc.strerror or str(exc)).lower()


def check_input_file(path: str | os.PathLike[str], *, what: str = "file") -> os.stat_result:
    """Check that ``path`` names a regular file (following symlinks); return its stat.

    Raises :class:`BeatrunError` with one line naming ``what`` and the path when
    it is missing, a folder, a FIFO, a device, a socket, a symlink loop or not
    accessible. Does not open the file.
    """
    shown = os.fsdecode(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise BeatrunError(f"{what} {shown} does not exist; check the path") from None
    except OSError as exc:
        raise BeatrunError(f"cannot open {what} {shown}: {os_reason(exc)}") from None
    except ValueError:  # an embedded NUL byte
        raise BeatrunError(f"{what} name {shown!r} holds a NUL byte; check the path") from None
    if not stat.S_ISREG(info.st_mode):
        raise BeatrunError(
            f"{what} {shown} is {_kind(info.st_mode)}, not a regular file; give a file"
        )
    return info


def open_regular(path: str | os.PathLike[str], *, what: str = "file") -> int:
    """Open ``path`` for reading without blocking on FIFOs; a regular file or BeatrunError.

    Returns an OS file descriptor (blocking mode restored); the caller closes it.
    The check is made on the opened descriptor, so a file swapped for a FIFO
    between a check and the open is still refused.
    """
    shown = os.fsdecode(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise BeatrunError(f"{what} {shown} does not exist; check the path") from None
    except IsADirectoryError:
        raise BeatrunError(f"{what} {shown} is a folder, not a regular file; give a file") from None
    except OSError as exc:
        raise BeatrunError(f"cannot open {what} {shown}: {os_reason(exc)}") from None
    except ValueError:
        raise BeatrunError(f"{what} name {shown!r} holds a NUL byte; check the path") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BeatrunError(
            f"{what} {shown} is {_kind(info.st_mode)}, not a regular file; give a file"
        )
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd


def read_bounded(path: str | os.PathLike[str], *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; BeatrunError otherwise."""
    fd = open_regular(path, what=what)
    try:
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise BeatrunError(f"cannot read {what} {os.fsdecode(path)}: {os_reason(exc)}") from None
    if len(data) > max_bytes:
        raise BeatrunError(
            f"{what} {os.fsdecode(path)} is larger than {_size(max_bytes)}, more than "
            "beatrun reads from such a file; check that it is the right file"
        )
    return data


def read_text(
    path: str | os.PathLike[str], *, max_bytes: int = 1 << 20, what: str = "file"
) -> str:
    """A small UTF-8 text file (a BOM is fine), bounded; one-line BeatrunError otherwise."""
    data = read_bounded(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BeatrunError(
            f"{what} {os.fsdecode(path)} is not UTF-8 text (byte {exc.start}); "
            "save it as UTF-8"
        ) from None


def _size(count: int) -> str:
    if count >= 1 << 20:
        return f"{count / (1 << 20):g} MiB"
    if count >= 1 << 10:
        return f"{count / (1 << 10):g} KiB"
    return f"{count} bytes"


def current_umask() -> int:
    """The process umask (read without changing it where the OS allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no other way: set and restore at once
    os.umask(mask)
    return mask


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries to disk (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    what: str = "file",
    private: bool = False,
    mode: int | None = None,
) -> Path:
    """Write ``data`` (str is UTF-8) to ``path`` atomically; return the path.

    Permissions: ``private`` gives 0600 (secrets); else ``mode`` if given; else
    an existing file's mode is kept; else 0666 less the umask, as for any new
    file. Raises BeatrunError (one line) and leaves an existing file untouched
    on any failure; the temporary file is removed.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise BeatrunError(
            f"cannot write {what} {target}: folder {folder} does not exist; create it"
        )
    if target.is_dir():
        raise BeatrunError(f"cannot write {what} {target}: it is a folder; give a file name")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if private:
        wanted = 0o600
    elif mode is not None:
        wanted = mode
    else:
        try:
            wanted = stat.S_IMODE(os.stat(target).st_mode)
        except OSError:
            wanted = 0o666 & ~current_umask()
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=folder, prefix=f".{target.name[:60]}.", suffix=TMP_SUFFIX
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, wanted)
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        raise BeatrunError(
            f"cannot write {what} {target}: {os_reason(exc)}; choose another folder"
        ) from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    fsync_dir(folder)
    return target


def try_lock(fd: int) -> bool:
    """Take an exclusive lock on an open file without waiting; False if another holds it.

    POSIX ``flock``; on Windows ``msvcrt`` locks the file's first byte. Locks are
    advisory between beatrun processes (token renewal, tag-write copies that a
    later scan may clean up) and end when the file is closed.
    """
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def unlock(fd: int) -> None:
    """Release a lock taken with :func:`try_lock` (closing the file releases it too)."""
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass
