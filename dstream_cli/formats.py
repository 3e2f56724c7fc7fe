"""How input lines become records (--format, parse) and how records become output lines (emit, save)."""
from __future__ import annotations

import io
from typing import Callable

import orjson

INPUT_FORMATS = ("text", "json", "csv", "tsv")
OUTPUT_FORMATS = ("tsv", "json", "csv", "repr", "text")


def _parse_csv(line: str) -> list[str]:
    import csv

    rows = list(csv.reader([line], strict=True))
    return rows[0] if rows else []


def _parse_tsv(line: str) -> list[str]:
    return line.split("\t")


def line_parser(fmt: str) -> Callable[[str], object] | None:
    """The function that turns one line into a record, or None for ``text`` (the line itself)."""
    return {"text": None, "json": orjson.loads, "csv": _parse_csv, "tsv": _parse_tsv}[fmt]


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


def _field(value) -> str:
    return value if isinstance(value, str) else to_json(value)


def _lines(strings) -> str:
    text = "\n".join(strings)
    return text + "\n" if text or strings else ""


def _render_tsv(batch: list) -> str:
    return _lines([
        x if isinstance(x, str)
        else "\t".join(map(_field, x)) if isinstance(x, (tuple, list))
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
