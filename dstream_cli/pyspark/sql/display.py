"""``DataFrame.show``'s text, as Spark's ``Dataset.showString`` writes it: values as Spark renders them (Java's
doubles, NULL, true/false, [a, b], {k -> v}), cut to 20 characters, right-aligned, in a box of + - |."""
from __future__ import annotations

import datetime
import decimal
import math


def cell(value) -> str:
    """A value as Spark's ``show`` writes it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (bytes, bytearray)):
        return "[" + " ".join(f"{b:02X}" for b in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{cell(k)} -> {cell(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inside = ", ".join(map(cell, value))
        return "{" + inside + "}" if hasattr(value, "__fields__") else "[" + inside + "]"  # a struct, an array
    return str(value)


def java_double(value: float) -> str:
    """Java's ``Double.toString``: plain from 10^-3 to 10^7, else d.dddE±n; NaN and Infinity by name."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python's shortest form, as Java's, with no exponent in this range
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    mantissa = text[0] + "." + (text[1:] or "0")
    power = len(digits) - 1 + exponent
    return f"{'-' if sign else ''}{mantissa}E{power}"


def _cut(text: str, truncate: int) -> str:
    """A cell at most *truncate* characters long (none when 0), ending in ... where it was cut."""
    if truncate > 0 and len(text) > truncate:
        return text[:truncate] if truncate < 4 else text[:truncate - 3] + "..."
    return text


def _more(num_rows: int, has_more: bool) -> str:
    """Spark's last line when rows were left out; ``print`` ends it."""
    return f"only showing top {num_rows} {'row' if num_rows == 1 else 'rows'}" if has_more else ""


def show_string(names: list[str], rows: list[tuple], num_rows: int, truncate: int, has_more: bool) -> str:
    """Spark's table for *rows* (at most *num_rows* of them were asked; *has_more*: there were more)."""
    header = [_cut(name, truncate) for name in names]
    body = [[_cut(cell(value), truncate) for value in row] for row in rows]
    widths = [max([3, len(header[i]), *(len(row[i]) for row in body)]) for i in range(len(names))]
    line = "+" + "+".join("-" * width for width in widths) + "+\n"

    def render(cells: list[str]) -> str:
        if truncate > 0:
            return "|" + "|".join(text.rjust(width) for text, width in zip(cells, widths)) + "|\n"
        return "|" + "|".join(text.ljust(width) for text, width in zip(cells, widths)) + "|\n"

    return line + render(header) + line + "".join(render(row) for row in body) + line + _more(num_rows, has_more)


def vertical_string(names: list[str], rows: list[tuple], num_rows: int, truncate: int, has_more: bool) -> str:
    """``show(vertical=True)``: one block per row, as Spark writes it."""
    field_width = max([3, *(len(name) for name in names)])
    cells = [[_cut(cell(value), truncate) for value in row] for row in rows]
    value_width = max([3, *(len(text) for row in cells for text in row)])
    out = ""
    for index, row in enumerate(cells):
        out += f"-RECORD {index}".ljust(field_width + value_width + 5, "-") + "\n"
        for name, text in zip(names, row):
            out += f" {name.ljust(field_width)} | {text.ljust(value_width)} \n"
    if not cells:
        out += "(0 rows)\n"
    return out + _more(num_rows, has_more)
