"""Read a list of DeviceNames from whatever CSV a person saved (Excel in any language, an editor, a script).

Shared by device import and the by-device-name upgrade form. Line numbers in results are the
1-based physical lines of the file, so a user can find the row in their editor or in Excel.
File-level problems (not text, empty, too large) are reported on line 0.
"""
import codecs
import csv
import io
import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

# Tencent's rule for a DeviceName: 1-48 of letters, digits and _ - . : @
DEVICE_NAME_RE = re.compile(r"[A-Za-z0-9_\-.:@]{1,48}")
HEADERS = {"devicename", "设备名称", "设备名"}  # compared lower-cased, spaces and "_" removed
MAX_BYTES = 4 * 1024 * 1024  # 10,000 names with a few extra columns fit many times over
_VALUE_SHOWN = 80  # an offending value is cut to this many characters in messages
# C0 controls other than tab, LF, FF and CR never occur in a text file a person saved.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

NOT_TEXT = "not_text"
EMPTY = "empty"
TOO_LARGE = "too_large"
INVALID_NAME = "invalid_name"
BAD_ROW = "bad_row"
MISSING_NAME = "missing_name"
DUPLICATE = "duplicate"
TOO_MANY = "too_many"


@dataclass
class CsvResult:
    """What a CSV of DeviceNames held: names in file order (first occurrence kept) and the problems."""

    names: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # name -> line of its first occurrence
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (name, line of the repeat)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, value)
    too_many: bool = False
    header: bool = False  # the first row was a DeviceName header and was skipped

    @property
    def file_error(self) -> str | None:
        """Return the code of a whole-file problem (not_text, empty, too_large), else None."""
        return next((code for line, code, _v in self.errors if line == 0), None)

    @property
    def ok(self) -> bool:
        """Return whether the file can be used as it is: names, no bad rows, not too many."""
        return bool(self.names) and not self.errors and not self.too_many


def valid_device_name(name: str) -> bool:
    """Return whether name follows Tencent's DeviceName rule."""
    return bool(name) and DEVICE_NAME_RE.fullmatch(name) is not None


def _decode(data: bytes) -> str | None:
    """Return the text of data, or None when it is not text in an encoding Excel or an editor writes."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        return None  # an .xlsx (zip) or an old .xls (OLE) renamed to .csv
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")  # Excel's "Unicode text"; the codec reads the BOM
        except UnicodeDecodeError:
            return None
    elif b"\x00" in data:
        return None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # Chinese Excel's "CSV (逗号分隔)" is GBK
            except UnicodeDecodeError:
                return None
    if _CONTROL.search(text):
        return None
    return text


def _delimiter(text: str) -> str:
    """Return "\\t" for tab-separated text (Excel's "Unicode text"), else ","."""
    # A tab between two values, not one merely left around a name.
    return "\t" if "," not in text and re.search(r"\S\t+\S", text) else ","


def _clean(cell: str) -> str:
    """Strip the spaces (ASCII, full-width, no-break) and stray BOMs people leave around a name."""
    return cell.strip().strip("\ufeff\u200b").strip()


def _is_header(cell: str) -> bool:
    return re.sub(r"[\s_]", "", cell).lower() in HEADERS


def _shown(value: str) -> str:
    return value if len(value) <= _VALUE_SHOWN else value[:_VALUE_SHOWN] + "…"


def read_device_names(data: bytes, max_rows: int | None = None, max_bytes: int | None = MAX_BYTES) -> CsvResult:
    """Parse DeviceNames (first column; optional header) from the bytes of an uploaded CSV."""
    result = CsvResult()
    if max_bytes is not None and len(data) > max_bytes:
        result.errors.append((0, TOO_LARGE, f"{max_bytes / (1024 * 1024):g}"))
        return result
    text = _decode(data)
    if text is None:
        result.errors.append((0, NOT_TEXT, ""))
        return result
    # newline="" keeps CR, LF and CRLF for the csv module, which ends a row at any of them.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    seen_row = False
    line = 1  # where the next record starts
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            result.errors.append((line, BAD_ROW, ""))
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        name = _clean(row[0]) if row else ""
        if not name and not any(_clean(c) for c in row):
            continue  # blank line, or a row of empty cells (Excel writes ",,," for them)
        if not seen_row:
            seen_row = True
            if _is_header(name):
                result.header = True
                continue
        if not name:
            result.errors.append((start, MISSING_NAME, ""))
        elif not valid_device_name(name):
            result.errors.append((start, INVALID_NAME, _shown(name)))
        elif name in result.lines:
            result.duplicates.append((name, start))
        else:
            result.lines[name] = start
            result.names.append(name)
    if not result.names and not result.errors:
        result.errors.append((0, EMPTY, ""))
    if max_rows is not None and len(result.names) > max_rows:
        result.too_many = True
    return result


def describe_error(code: str, value: str = ""):
    """Return the message for an error code, in the page's language (lazy: render it in a request)."""
    if code == NOT_TEXT:
        return _l("This is not a text CSV file (an Excel workbook or a binary file?). In Excel use "
                  "Save As and choose “CSV UTF-8” or “CSV”.")
    if code == EMPTY:
        return _l("The file contains no DeviceNames.")
    if code == TOO_LARGE:
        return _l("The file is larger than %(value)s MB.", value=value)
    if code == INVALID_NAME:
        return _l("“%(value)s” is not a valid DeviceName: use 1–48 letters, digits, "
                  "or the characters _ - . : @", value=value)
    if code == MISSING_NAME:
        return _l("The DeviceName (first column) is empty.")
    if code == BAD_ROW:
        return _l("This row cannot be read as CSV.")
    if code == DUPLICATE:
        return _l("“%(value)s” appears more than once; only its first line is used.", value=value)
    if code == TOO_MANY:
        return _l("The file lists more than %(value)s devices.", value=value)
    return code


def describe_line(line: int, code: str, value: str = ""):
    """Return "Line N: message" (or just the message for a whole-file problem)."""
    message = describe_error(code, value)
    return _l("Line %(line)s: %(message)s", line=line, message=message) if line else message


def describe_repeat(name: str, line: int, first: int):
    """Return "Line N: “name” repeats line M; ignored" (lazy)."""
    return _l("Line %(line)s: “%(name)s” repeats line %(first)s; ignored", line=line, name=name, first=first)


@dataclass(frozen=True)
class Problem:
    """One problem of a CSV as the pages list it: its line (0: the whole file) and message; repeat: only ignored."""

    line: int
    message: object  # a lazy string, rendered in the request's language
    repeat: bool = False


def problems(result: CsvResult, extra=()) -> list[Problem]:
    """Return every error and repeated line of result (and the extra Problems), in line order."""
    found = [Problem(line, describe_line(line, code, value)) for line, code, value in result.errors]
    found += [Problem(line, describe_repeat(name, line, result.lines[name]), True) for name, line in result.duplicates]
    found += list(extra)
    return sorted(found, key=lambda p: p.line)  # stable: a line's problems keep their order


def repeats_notice(found: list[Problem], shown: int = 20) -> str:
    """Return "N repeated lines were ignored:" then each repeat of found with its line, one a line (for a flash)."""
    repeats = [p for p in found if p.repeat]
    lines = [ngettext("%(num)s repeated line was ignored:", "%(num)s repeated lines were ignored:", len(repeats))]
    lines += [str(p.message) for p in repeats[:shown]]
    if len(repeats) > shown:
        lines.append(ngettext("…and %(num)s more line.", "…and %(num)s more lines.", len(repeats) - shown))
    return "\n".join(lines)
