"""How fast syncd imports activity files, against the floor of fitdecode alone.

    .venv/bin/python benchmarks/import_files.py [--files 1000] [--repeat 3]

Two workloads, in one run:

1. the bundled sample history (examples/history: FIT, TCX and GPX files), imported as
   ``syncd import`` does (read, hash, parse, segment, normalize);
2. a generated folder of ``--files`` FIT files: variants of the example FIT files and, when
   ../shared/fixtures/fit is present, of the real device recordings, each made unique by a
   different profile-version field in its header (both checksums recomputed), so that no
   two share a content hash.

For the FIT folder it prints files per second for syncd and for fitdecode alone decoding the
same files with checksums checked (the floor: syncd cannot be faster than its decoder), and
the ratio of the two. The goal is a ratio within 2x. Times are CPU seconds, the best of
``--repeat`` runs of each, taken in turn.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import fitdecode

from connectors.base import ConnectorContext
from connectors.files import FilesConnector

REPO = Path(__file__).resolve().parents[1]
HISTORY = REPO / "examples" / "history"
FIXTURES = REPO / ".." / "shared" / "fixtures" / "fit"

_CRC_TABLE = (0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
              0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400)


def fit_crc(data: bytes, crc: int = 0) -> int:
    """The FIT CRC-16 of ``data`` (the SDK's nibble-table algorithm)."""
    for byte in data:
        for nibble in (byte & 0x0F, byte >> 4):
            tmp = _CRC_TABLE[crc & 0x0F]
            crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ _CRC_TABLE[nibble]
    return crc


def variant(fit: bytes, number: int) -> bytes:
    """``fit`` with header bytes 2-3 (profile version) set to ``number``, checksums fixed."""
    header_size = fit[0]
    header = bytearray(fit[:header_size])
    struct.pack_into("<H", header, 2, number & 0xFFFF)
    if header_size >= 14:
        struct.pack_into("<H", header, 12, fit_crc(bytes(header[:12])))
    body = bytes(header) + fit[header_size:-2]
    return body + struct.pack("<H", fit_crc(body))


def make_folder(folder: Path, count: int) -> list[Path]:
    """Write ``count`` unique FIT files into ``folder``, cycling through the sources."""
    sources = sorted(HISTORY.glob("*.fit"))
    if FIXTURES.is_dir():
        sources += sorted(FIXTURES.glob("*.fit"))
    paths = []
    for index in range(count):
        source = sources[index % len(sources)]
        path = folder / f"{index:04d}-{source.name}"
        path.write_bytes(variant(source.read_bytes(), 1000 + index))
        paths.append(path)
    return paths


def decode_only(paths: list[Path]) -> int:
    """The floor: read each file and let fitdecode decode every frame, CRC checked."""
    frames = 0
    for path in paths:
        with fitdecode.FitReader(io.BytesIO(path.read_bytes()),
                                 check_crc=fitdecode.CrcCheck.RAISE) as reader:
            for _ in reader:
                frames += 1
    return frames


def syncd_import(paths: list[Path]) -> int:
    """What ``syncd import`` does with the files: records, then normalized activities."""
    context = ConnectorContext(athlete="bench", timezone="Europe/Berlin",
                               now=lambda: datetime.now(UTC))
    files = FilesConnector(None, context)
    batch = files.read_paths(paths)
    if batch.failures:
        raise SystemExit(f"unexpected failures: {batch.failures[:3]}")
    activities, failures = files.normalize_all(batch.records)
    if failures:
        raise SystemExit(f"unexpected failures: {failures[:3]}")
    return len(activities)


def timed(task: Callable[[], object]) -> float:
    """CPU seconds of one run: other processes on a busy machine do not count."""
    start = time.process_time()
    task()
    return time.process_time() - start


def best_of_interleaved(repeat: int, *tasks: Callable[[], object]) -> list[float]:
    """The fastest of ``repeat`` runs of each task, run in turn so that a cache or clock
    change affects them alike."""
    best = [float("inf")] * len(tasks)
    for _ in range(repeat):
        for index, task in enumerate(tasks):
            best[index] = min(best[index], timed(task))
    return best


def main(argv: list[str] | None = None) -> int:
    """Run both workloads and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    history = sorted(HISTORY.iterdir())
    (seconds,) = best_of_interleaved(args.repeat, lambda: syncd_import(history))
    print(f"sample history: {len(history)} files (FIT, TCX, GPX) in {seconds:.3f} s, "
          f"{len(history) / seconds:.0f} files/s")

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_folder(Path(tmp), args.files)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        real = "with" if FIXTURES.is_dir() else "without"
        print(f"generated folder: {len(paths)} FIT files, {megabytes:.1f} MB "
              f"({real} the real device recordings)")
        floor, ours = best_of_interleaved(args.repeat, lambda: decode_only(paths),
                                          lambda: syncd_import(paths))
    print(f"  fitdecode alone (floor): {floor:.2f} s, {len(paths) / floor:.0f} files/s")
    print(f"  syncd import:            {ours:.2f} s, {len(paths) / ours:.0f} files/s")
    print(f"  ratio syncd / floor:     {ours / floor:.2f}x (goal: within 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
