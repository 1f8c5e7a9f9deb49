"""How large one activity file may be: its bytes and its track points, checked before the
parsers build anything from it (``[files] max_file_mb`` and ``max_points``).

A file in a watched folder is opened without following a symbolic link: in a clinic, a link
in one athlete's folder could otherwise import another athlete's run.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import InvalidFile

_MAX_MB_HINT = "raise [files] max_file_mb if it is a real recording"
# Every point gpxpy or the TCX reader builds an object for, namespaced or not.
_POINT_TAGS = {
    ".gpx": re.compile(rb"<(?:[\w.-]+:)?(?:trkpt|rtept|wpt)[\s/>]"),
    ".tcx": re.compile(rb"<(?:[\w.-]+:)?Trackpoint[\s/>]"),
}


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How much an archive or a gzipped file may inflate to, and how large one activity file
    may be (``[files] max_file_mb`` and ``max_points``).

    A 47 MB GPX took 28 s and 876 MB to read: 32 MB and 100,000 track points (27 hours at one
    point a second) hold any real recording and keep one file's cost near 5 s and 350 MB.
    """

    max_total_bytes: int = 1 << 30
    max_member_bytes: int = 256 << 20
    max_ratio: float = 100.0
    max_members: int = 50_000
    max_activity_bytes: int = 32 << 20
    max_activity_points: int = 100_000


def check_activity_size(size: int, name: str, limits: ArchiveLimits, *,
                        inflated: bool = False) -> None:
    """Refuse (``InvalidFile``) an activity file larger than ``[files] max_file_mb``."""
    if size > limits.max_activity_bytes:
        what = "inflates to more than" if inflated else f"is {size / 2**20:.1f} MB, more than"
        raise InvalidFile(f"{name}: {what} the {limits.max_activity_bytes / 2**20:.3g} MB "
                          "allowed for an activity file ([files] max_file_mb); refused",
                          hint=_MAX_MB_HINT)


def check_activity_points(data: bytes, name: str, limits: ArchiveLimits) -> None:
    """Refuse a GPX or TCX file with more track points than ``[files] max_points``, counted
    in its text before any parser builds them (the cost of a file is its points)."""
    suffix = Path(name.lower().removesuffix(".gz")).suffix
    pattern = _POINT_TAGS.get(suffix)
    if pattern is not None:
        refuse_points(sum(1 for _ in pattern.finditer(data)), name, limits)


def refuse_points(count: int, name: str, limits: ArchiveLimits) -> None:
    """Refuse a file of ``count`` track points when that is more than ``[files] max_points``."""
    if count > limits.max_activity_points:
        raise InvalidFile(f"{name}: {count:,} track points, more than the "
                          f"{limits.max_activity_points:,} allowed for an activity file "
                          "([files] max_points); refused",
                          hint="raise [files] max_points if it is a real recording")


def read_limited(path: Path, limits: ArchiveLimits, *, follow_symlinks: bool) -> bytes:
    """A file's bytes, refused (``InvalidFile``) when it is a symbolic link (unless
    ``follow_symlinks``), not a regular file, or larger than allowed (an activity file: ``[files]
    max_file_mb``; an export zip: the archive limit).

    The checks are made on the open file, so a file swapped for a link between a listing and
    the read is refused too. Raises ``OSError`` when the file cannot be read.
    """
    flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if not follow_symlinks and path.is_symlink():
            raise symlink_refused(path) from err
        raise
    archive = path.name.lower().endswith(".zip")
    cap = limits.max_total_bytes if archive else limits.max_activity_bytes
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidFile(f"{path}: not a regular file; skipped")
        _check_size(info.st_size, path, cap, limits, archive=archive)
        # One byte past the cap: a file still growing is measured as it is read.
        data = stream.read(cap + 1)
    _check_size(len(data), path, cap, limits, archive=archive)
    return data


def _check_size(size: int, path: Path, cap: int, limits: ArchiveLimits, *,
                archive: bool) -> None:
    if not archive:
        check_activity_size(size, str(path), limits)
    elif size > cap:
        raise InvalidFile(f"{path}: larger than the {cap / 2**20:g} MB allowed for an export "
                          "archive; refused")


def symlink_refused(path: Path) -> InvalidFile:
    """The refusal of a symbolic link met in a folder."""
    return InvalidFile(f"{path}: is a symbolic link; skipped",
                       hint="put the file itself in the folder: a link can reach files that "
                            "are not the athlete's")
