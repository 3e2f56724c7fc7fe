"""How input lines become records (--format, parse) and how records become output lines (emit, save)."""
from __future__ import annotations

import io
import itertools
import operator
import re
from typing import Callable

import orjson

from .errors import RECORD_ERRORS, shorten
from .ops.views import PairsView, pair_key, pair_value

INPUT_FORMATS = ("text", "json", "csv", "tsv")
OUTPUT_FORMATS = ("tsv", "json", "csv", "repr", "text")

# tsv fields escape what would break a row, as PostgreSQL's text COPY does; a backslash is doubled
# so that escaping can be undone exactly.
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TSV_UNESCAPE = re.compile(r"\\(.)")
_TSV_UNESCAPED = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}

# orjson reads an integer beyond 64 bits as a float; a run of 19 digits may be one, and then the
# standard library parses the document exactly (it has no limit on integers).


def _parse_csv(line: str) -> list[str]:
    import csv

    rows = list(csv.reader([line], strict=True))
    return rows[0] if rows else []


def _parse_tsv(line: str) -> list[str]:
    fields = line.split("\t")
    if "\\" in line:
        return [_TSV_UNESCAPE.sub(lambda m: _TSV_UNESCAPED.get(m.group(1), m.group(0)), f) for f in fields]
    return fields


#: digits to "0", everything else to a space: a 19-digit run (an integer orjson would turn into a float)
#: is then a plain substring search, about ten times as fast as a regular expression over the text
_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_RUN = b"0" * 19


def _maybe_big_integer(text: str | bytes) -> bool:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return _LONG_RUN in data.translate(_DIGITS)


def _parse_json(line: str | bytes):
    if _maybe_big_integer(line):
        import json

        return json.loads(line)
    return orjson.loads(line)


class ChunkLines(list):
    """The lines of one chunk of input bytes, which is kept: a check over all the lines reads it, not a join."""

    __slots__ = ("joined",)

    def __init__(self, joined: bytes) -> None:
        super().__init__(joined.split(b"\n"))
        self.joined = joined


def _parse_json_batch(lines: list) -> list:
    """Lines as str, or (from a chunk of input bytes) as UTF-8 bytes, which orjson reads without a decode."""
    # One scan of the whole slice keeps the common case at orjson's speed.
    if type(lines) is ChunkLines:
        joined = lines.joined
    else:
        joined = b"\n".join(lines) if lines and type(lines[0]) is bytes else "\n".join(lines)
    if _maybe_big_integer(joined):
        return list(map(_parse_json, lines))
    return list(map(orjson.loads, lines))


def _parse_tsv_batch(lines: list) -> list:
    if any(map(operator.contains, lines, itertools.repeat("\\"))):
        return list(map(_parse_tsv, lines))
    return list(map(str.split, lines, itertools.repeat("\t")))  # nothing escaped: a split in C per line


def line_parser(fmt: str) -> Callable[[str], object] | None:
    """The function that turns one line into a record, or None for ``text`` (the line itself)."""
    return {"text": None, "json": _parse_json, "csv": _parse_csv, "tsv": _parse_tsv}[fmt]


def batch_parser(fmt: str) -> Callable[[list], list]:
    """The function that turns a list of lines into records, as fast as the format allows."""
    if fmt == "json":
        return _parse_json_batch
    if fmt == "tsv":
        return _parse_tsv_batch
    parse = line_parser(fmt) or str
    return lambda lines: list(map(parse, lines))


class HeaderRows:
    """``--header``: the first line of an input names the columns, and every later line is a dict of them, as
    csv.DictReader, mlr and pandas read a CSV file. A line equal to the header is that header again (the next
    file of a directory, stdin of a restarted run) and gives no row; an empty line gives none either."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.parse = line_parser(fmt)
        self.line: str | None = None  # the header as it was read: kept in the checkpoint
        self.columns: list[str] | None = None

    def restore(self, line: str | None) -> None:
        self.line = line
        self.columns = None if line is None else self.parse(line)

    def rows(self, lines: list, reject) -> list[dict]:
        """The rows of *lines*; ``reject(raw, reason)`` is told of a line that is not one."""
        rows = []
        for line in lines:
            if not line or line == self.line:
                continue
            try:
                fields = self.parse(line)
            except RECORD_ERRORS as exc:  # noqa: BLE001 - csv fails in its own ways
                reject(line, f"not valid {self.fmt}: {exc}")
                continue
            if self.columns is None:
                self.line, self.columns = line, fields
            elif len(fields) != len(self.columns):
                reject(line, f"{len(fields)} fields where the header has {len(self.columns)} "
                             f"({','.join(self.columns)})")
            else:
                rows.append(dict(zip(self.columns, fields)))
        return rows


def header_columns(record) -> list:
    """The columns a written header names: a dict's keys, or key and value for a pair."""
    if isinstance(record, dict):
        return list(record)
    if isinstance(record, (tuple, list)) and len(record) == 2:
        return ["key", "value"]
    raise ValueError(f"a {type(record).__name__} ({shorten(record)}) has no column names: it writes dicts (as "
                     "--format csv --header reads them) and (key, value) pairs")


def _row(record, columns: list) -> tuple:
    if not isinstance(record, dict):
        header_columns(record)  # a pair, or the error that says what --header writes
        return tuple(record)
    if len(record) != len(columns) or any(key not in record for key in columns):
        extra = [str(key) for key in record if key not in columns]
        if extra:
            raise ValueError(f"a record has {', '.join(extra)}, which the header ({','.join(map(str, columns))}) "
                             f"has not: {shorten(record)}")
    return tuple(record.get(key, "") for key in columns)


def render_with_header(batch: list, fmt: str, columns: list, header: bool) -> str:
    """The batch as rows of *columns* (csv or tsv), after a header line of them when *header*."""
    rows = [_row(record, columns) for record in batch]
    return render(([tuple(map(str, columns))] if header else []) + rows, fmt)


def _json_default(value):
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def to_json(value) -> str:
    """Compact JSON of *value*; tuples become arrays, anything unknown its ``str``."""
    try:
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        import json  # integers beyond 64 bits: the standard library has no limit

        return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _tsv_text(text: str) -> str:
    return text.translate(_TSV_ESCAPES) if "\\" in text or not text.isprintable() else text


def _field(value) -> str:
    return value if isinstance(value, str) else to_json(value)


def _tsv_field(value) -> str:
    return _tsv_text(value) if isinstance(value, str) else to_json(value)


def _lines(strings) -> str:
    text = "\n".join(strings)
    return text + "\n" if text or strings else ""


def _plain_pairs_tsv(batch) -> str | None:
    """The tsv of a batch of (str, int) pairs where no key needs escaping, in C-level passes; else None. The
    pairs are formatted before the keys are checked for escapes: the finished text tells in one scan."""
    try:
        if isinstance(batch, PairsView):  # pairs by construction: their types are read a column at a time
            keys, values = batch.columns()
            if not (_all_of_type(values, int, batch.value_type) and _all_of_type(keys, str, batch.key_type)):
                return None
        elif set(map(type, batch)) != {tuple} or set(map(type, map(pair_value, batch))) != {int}:
            return None
        else:
            "".join(map(pair_key, batch))  # a key that is not a str raises
        text = "".join([f"{key}\t{value}\n" for key, value in batch])  # an f-string per pair: faster than joins
    except (TypeError, ValueError, IndexError):  # a key that is not a str, a tuple that is not a pair
        return None
    # a tab or newline inside a key shows as one too many; a backslash or CR needs escaping
    if text.count("\n") != len(batch) or text.count("\t") != len(batch) or "\\" in text or "\r" in text:
        return None
    return text


def _all_of_type(column, kind: type, known: type | None) -> bool:
    return known is kind or set(map(type, column)) == {kind}


def _render_tsv(batch: list) -> str:
    plain = _plain_pairs_tsv(batch)
    return plain if plain is not None else _tsv_lines(batch)


def _tsv_lines(batch: list) -> str:
    """The tsv of any batch, a record at a time."""
    return _lines([
        _tsv_text(x) if isinstance(x, str)
        else "\t".join(map(_tsv_field, x)) if isinstance(x, (tuple, list))
        else to_json(x)
        for x in batch
    ])


def _render_csv(batch: list) -> str:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for x in batch:
        writer.writerow([_field(f) for f in x] if isinstance(x, (tuple, list)) else [_field(x)])
    return buffer.getvalue()


RENDERERS: dict[str, Callable[[list], str]] = {
    "tsv": _render_tsv,
    "csv": _render_csv,
    "json": lambda batch: _lines([to_json(x) for x in batch]),
    "repr": lambda batch: _lines([repr(x) for x in batch]),
    "text": lambda batch: _lines([str(x) for x in batch]),
}


def render(batch: list, fmt: str) -> str:
    """The batch as text, one element per line, each line ending with a newline."""
    return RENDERERS[fmt](batch) if batch else ""
