"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every result, marker, config and cache file the suite writes goes through :func:`write_atomic`, so a
crash (or SIGKILL) mid-write never leaves a truncated file a later step could read as finished.
Temporary files and directories (``mkstemp`` 0600, ``mkdtemp`` 0700) get the modes the umask gives
an ordinary file or directory before they are published, so a teammate can read the results.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def umask() -> int:
    """The process umask (read without changing it for longer than the call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def shared_mode(directory: bool = False) -> int:
    """The mode an ordinary file (0o666) or directory (0o777) gets under the current umask."""
    return (0o777 if directory else 0o666) & ~umask()


def temp_dir(final: str | os.PathLike) -> Path:
    """A new temp directory beside ``final`` (``.<name>.*``) with the umask's directory mode."""
    final = Path(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(tmp, shared_mode(directory=True))
    return tmp


def share_tree(root: str | os.PathLike) -> None:
    """Give ``root`` and everything under it the umask's modes (safetensors writes its files 0600)."""
    root = Path(root)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, shared_mode(directory=path.is_dir()))


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory, fsync, ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, shared_mode())
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def publish_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp directory beside ``final``; when the block ends without error, it replaces ``final``.

    A crash inside the block leaves ``final`` as it was (absent or the previous version) and no temp dir.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(final)
    try:
        yield tmp
        share_tree(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
