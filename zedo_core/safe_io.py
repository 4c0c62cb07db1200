"""File handling shared by the command lines (``python -m zedo_core lift``, ``zedo_blender.batch``).

- :func:`read_npz`: an input ``.npz`` read without pickles and without trusting its headers;
  every problem is one :class:`~zedo_core.inputs.InputError` line.
- :func:`check_output_paths`: before any work, refuse an output that would replace an input
  (also through a link, or another spelling of the same path), two outputs on one path, or an
  output that cannot be written.
- :func:`write_outputs`: outputs written whole or not at all (temporary file next to the target,
  moved into place); a failed write raises :class:`WriteError`, an interruption leaves no
  temporary file behind.
- :func:`termination_as_exception`: SIGTERM / SIGHUP raise :class:`Terminated`, so that the
  ``finally`` clean-up runs as it does for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import signal
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from .inputs import InputError

F = TypeVar("F", bound=Callable)

# Errors that malformed file contents raise somewhere inside json / zipfile / numpy.
READ_ERRORS = (
    OSError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError,
    OverflowError, RecursionError, MemoryError, UnicodeError, zipfile.BadZipFile, zlib.error,
)  # fmt: skip


class WriteError(Exception):
    """An output could not be written (disk full, file too large, no permission); exit status 1."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (see :func:`termination_as_exception`). Like KeyboardInterrupt it
    is not an ``Exception``, so no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def display(path: object) -> str:
    """``path`` as printable text: bytes that are not UTF-8 are shown as ``\\xNN``."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def first_line(message: object, limit: int = 300) -> str:
    """The first non-empty line of ``message``, at most ``limit`` characters."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def input_errors_only(read: F) -> F:
    """Decorate a reader ``read(path, ...)``: whatever malformed content makes json, zipfile or
    numpy raise becomes an :class:`InputError` naming the file (the reader's own InputErrors pass)."""

    @functools.wraps(read)
    def wrapper(path, *args, **kwargs):
        try:
            return read(path, *args, **kwargs)
        except InputError:
            raise
        except MemoryError:
            raise InputError(f"{display(path)}: too large to read into memory") from None
        except RecursionError:
            raise InputError(f"{display(path)}: nested too deeply to read") from None
        except READ_ERRORS as exc:
            raise InputError(f"{display(path)}: cannot read ({type(exc).__name__}: {first_line(exc)})") from None

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- .npz


def _npy_header(member) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        shape, _, dtype = np.lib.format._read_array_header(member, version)  # (3, 0): no public reader
    return shape, dtype


def _check_members(path: Path, archive: zipfile.ZipFile) -> None:
    """Every member must be an ``.npy`` array whose header's shape fits the bytes the member holds,
    so that a damaged or hostile header cannot make numpy allocate terabytes."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        with archive.open(info) as member:
            try:
                shape, dtype = _npy_header(member)
            except ValueError:
                raise InputError(
                    f"{display(path)}: key '{key}' is not a NumPy array (save inputs with numpy.savez)"
                ) from None
        if dtype.hasobject:
            raise InputError(f"{display(path)}: key '{key}' holds Python objects ({dtype}); only arrays are read")
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > info.file_size:
            raise InputError(
                f"{display(path)}: key '{key}' is damaged: its header claims shape {shape} of {dtype} "
                f"({claimed:,} bytes) but it holds {info.file_size:,} bytes"
            )


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``; raises InputError naming the file (and the key)
    when it is missing, not an archive, damaged, holds pickled objects or is too large."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{display(path)}: no such file")
    try:
        if not zipfile.is_zipfile(path):
            raise InputError(
                f"{display(path)}: cannot read as .npz: not an .npz archive (save inputs with numpy.savez)"
            )
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive)
        with np.load(path, allow_pickle=False) as loaded:
            return {key: loaded[key] for key in loaded.files}
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{display(path)}: too large to read into memory") from None
    except READ_ERRORS as exc:
        raise InputError(f"{display(path)}: cannot read as .npz ({first_line(exc)})") from None


# ---------------------------------------------------------------------------------------- outputs


def same_path(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same file on disk (links included), or, when
    one does not exist yet, the same path once links and ``..`` are resolved."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_paths(inputs: Sequence[Path], outputs: Sequence[Path]) -> None:
    """Refuse (InputError) an output that is one of the ``inputs`` (or a JSON file inside an input
    folder: a frame of it), two outputs on one path, an output that is a folder, or one whose
    folder cannot be created or written. Touches nothing on disk."""
    for i, output in enumerate(outputs):
        for earlier in outputs[:i]:
            if same_path(output, earlier):
                raise InputError(f"{display(output)}: given as two outputs; each output needs its own path")
        for source in inputs:
            if same_path(output, source):
                raise InputError(f"{display(output)}: is the input {display(source)}; refusing to overwrite it")
            if source.is_dir() and output.suffix.lower() == ".json" and same_path(output.parent, source):
                raise InputError(
                    f"{display(output)}: inside the input folder {display(source)}; refusing to write there"
                )
        if output.is_dir():
            raise InputError(f"{display(output)}: cannot write the output (it is a folder; give a file name)")
        folder = _nearest_existing(output.parent)
        if not folder.is_dir():
            raise InputError(f"{display(output)}: cannot write the output ({display(folder)} is not a folder)")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"{display(output)}: cannot write the output (folder {display(folder)} is not writable)")


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def partial_path(path: Path) -> Path:
    """The temporary name an output is written under before it is moved onto ``path``."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


def write_outputs(writers: Sequence[tuple[Path, Callable[[Path], None]]], utf8_paths: bool = False) -> None:
    """Call each ``write(tmp)`` of ``(path, write)`` on a temporary file next to ``path``, then
    move every file into place; existing files at the paths are replaced only once every write
    has succeeded (the moves themselves are renames in a row, not one atomic step). On any failure
    or interruption the temporary files are removed and the paths are left as they were; an
    OSError of a writer or a move becomes a :class:`WriteError` naming the output.

    ``utf8_paths``: the writers take only UTF-8 paths (Blender's operators). A temporary path that
    is not (a folder name with other bytes) is then written in the system's temporary folder first.
    """
    temporary: list[Path] = []
    staging: Path | None = None
    written: list[Path] = []
    current = writers[0][0] if writers else Path()
    try:
        for current, write in writers:
            current.parent.mkdir(parents=True, exist_ok=True)
            tmp = partial_path(current)
            temporary.append(tmp)
            target = tmp
            if utf8_paths and not _utf8(tmp):
                staging = staging or Path(tempfile.mkdtemp(prefix="zedo-"))
                target = staging / f"{len(written)}{current.suffix}"
            write(target)
            if not target.is_file():
                raise WriteError(f"{display(current)}: cannot write the output (the writer made no file)")
            if target != tmp:
                shutil.copyfile(target, tmp)
            written.append(tmp)
        for (current, _), tmp in zip(writers, written):
            os.replace(tmp, current)
    except WriteError:
        raise
    except OSError as exc:
        reason = exc.strerror or first_line(exc)
        raise WriteError(f"{display(current)}: cannot write the output ({reason})") from None
    finally:
        for tmp in temporary:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------- signals


@contextlib.contextmanager
def termination_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (once:
    a second signal does not interrupt the clean-up). Signals the process ignores stay ignored
    (``nohup``); outside the main thread this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: object) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Terminated(signum)

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
