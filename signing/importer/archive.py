"""An uploaded XLSX is a zip archive: refuse a zip bomb before anything is decompressed (issue 9
item 5: a 715 KB upload took 2.6 GB of memory and minutes of CPU in the XLSX reader).

Everything here reads only the archive's directory, never a member's data:
1. the end-of-central-directory record (the last 22 bytes to 64 KB of the file) gives the
   number of members and the directory's size, so an archive of a million tiny members is
   refused before zipfile builds a million entries;
2. then each member's declared uncompressed size and compression ratio, their sum, and the size
   of the shared-string table (the one part the reader holds in memory whole).

The declared sizes are enough: Python's zipfile never yields more than a member's declared size
(it cuts the output there and the CRC check fails), so a member that lies about its size is
unreadable, not large. The limits are settings (signing.importer.limits).
"""

from __future__ import annotations

import struct
import zipfile
from typing import IO

from healthnet.errors import InvalidInput
from signing.importer.limits import MB, RATIO_CHECKED_FROM_BYTES, limit

_END = b"PK\x05\x06"  # end of central directory record
_END_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_END = b"PK\x06\x06"
_MAX_COMMENT = 65535
_CENTRAL_ENTRY_MIN = 46  # a central directory entry without name, extra or comment
# The shared-string table (xl/sharedStrings.xml), which the XLSX reader holds in memory whole.
SHARED_STRINGS_SUFFIX = "sharedstrings.xml"


def _unreadable() -> InvalidInput:
    return InvalidInput("file_unreadable", "无法读取 XLSX 文件 (not a readable XLSX)", field="file")


def _too_many(members: int, most: int) -> InvalidInput:
    return InvalidInput(
        "xlsx_too_many_parts",
        f"XLSX 文件包含的部件过多（{members}，上限 {most}） (too many parts in the archive)",
        field="file",
        parts=members,
        limit=most,
    )


def _directory_size(handle: IO[bytes]) -> tuple[int, int]:
    """(members, central directory bytes) from the end record, without zipfile."""
    handle.seek(0, 2)
    size = handle.tell()
    tail_size = min(size, _END_SIZE + _MAX_COMMENT)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(_END)
    if at < 0 or len(tail) - at < _END_SIZE:
        raise _unreadable()
    _, _, _, _, members, directory, _, _ = struct.unpack("<4s4H2LH", tail[at : at + _END_SIZE])
    if members == 0xFFFF or directory == 0xFFFFFFFF:  # ZIP64: the sizes are in another record
        locator_at = size - tail_size + at - _ZIP64_LOCATOR_SIZE
        if locator_at < 0:
            raise _unreadable()
        handle.seek(locator_at)
        locator = handle.read(_ZIP64_LOCATOR_SIZE)
        if locator[:4] != _ZIP64_LOCATOR:
            raise _unreadable()
        (record_at,) = struct.unpack("<Q", locator[8:16])
        handle.seek(record_at)
        record = handle.read(56)
        if len(record) < 56 or record[:4] != _ZIP64_END:
            raise _unreadable()
        members, directory = struct.unpack("<QQ", record[32:48])
    return members, directory


def xlsx_archive_check(handle: IO[bytes]) -> None:
    """Raise InvalidInput (422, field `file`) unless the XLSX archive is within the limits:
    `xlsx_too_many_parts`, `xlsx_too_large` (uncompressed, in all or in the shared-string
    table), `xlsx_compression_ratio`;
    `file_unreadable` for what is no zip at all. Leaves the file at its start."""
    most_members = limit("SIGNING_IMPORT_XLSX_MAX_MEMBERS")
    most_bytes = limit("SIGNING_IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES")
    most_ratio = limit("SIGNING_IMPORT_XLSX_MAX_RATIO")
    try:
        members, directory = _directory_size(handle)
        if members > most_members or directory > 8 * MB:  # a directory bigger than any XLSX
            raise _too_many(members, most_members)
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, struct.error, OSError, ValueError, EOFError):
        raise _unreadable() from None
    finally:
        handle.seek(0)
    if len(entries) > most_members:
        raise _too_many(len(entries), most_members)
    uncompressed = sum(entry.file_size for entry in entries)
    compressed = sum(entry.compress_size for entry in entries)
    most_strings = limit("SIGNING_IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES")
    strings = sum(
        e.file_size for e in entries if e.filename.lower().endswith(SHARED_STRINGS_SUFFIX)
    )
    if uncompressed > most_bytes or strings > most_strings:
        raise InvalidInput(
            "xlsx_too_large",
            f"XLSX 文件解压后过大（{uncompressed // MB} MB，上限 {most_bytes // MB} MB；"
            f"其中共享字符串 {strings // MB} MB，上限 {most_strings // MB} MB），请拆分文件 "
            "(the workbook is too large once uncompressed: split it)",
            field="file",
            uncompressed_bytes=uncompressed,
            limit=most_bytes,
            shared_strings_bytes=strings,
            shared_strings_limit=most_strings,
        )
    ratios = [
        entry.file_size / max(entry.compress_size, 1)
        for entry in entries
        if entry.file_size >= RATIO_CHECKED_FROM_BYTES
    ]
    if uncompressed >= RATIO_CHECKED_FROM_BYTES:
        ratios.append(uncompressed / max(compressed, 1))
    worst = max(ratios, default=0.0)
    if worst > most_ratio:
        raise InvalidInput(
            "xlsx_compression_ratio",
            f"XLSX 文件的压缩比异常（{worst:.0f}:1，上限 {most_ratio}:1），疑似压缩炸弹 "
            "(the archive's compression ratio is abnormal: refused as a zip bomb)",
            field="file",
            ratio=round(worst),
            limit=most_ratio,
        )
