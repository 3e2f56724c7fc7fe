"""PySpark's data types and ``Row``, as ``pyspark.sql.types`` has them, with the DuckDB type each is stored as."""
from __future__ import annotations

import datetime
import decimal
import re
from typing import Any


class DataType:
    """A column's type: ``simpleString()`` is Spark's name for it (``bigint``), ``duckdb`` the stored type."""

    duckdb = "VARCHAR"
    name = "string"

    def simpleString(self) -> str:  # noqa: N802
        return self.name

    def typeName(self) -> str:  # noqa: N802
        return type(self).__name__[:-4].lower()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(repr(self))


def _atomic(class_name: str, spark: str, duck: str) -> type:
    return type(class_name, (DataType,), {"name": spark, "duckdb": duck})


NullType = _atomic("NullType", "void", "VARCHAR")
StringType = _atomic("StringType", "string", "VARCHAR")
BinaryType = _atomic("BinaryType", "binary", "BLOB")
BooleanType = _atomic("BooleanType", "boolean", "BOOLEAN")
ByteType = _atomic("ByteType", "tinyint", "TINYINT")
ShortType = _atomic("ShortType", "smallint", "SMALLINT")
IntegerType = _atomic("IntegerType", "int", "INTEGER")
LongType = _atomic("LongType", "bigint", "BIGINT")
FloatType = _atomic("FloatType", "float", "FLOAT")
DoubleType = _atomic("DoubleType", "double", "DOUBLE")
DateType = _atomic("DateType", "date", "DATE")
TimestampType = _atomic("TimestampType", "timestamp", "TIMESTAMP")


class DecimalType(DataType):
    def __init__(self, precision: int = 10, scale: int = 0) -> None:
        self.precision, self.scale = precision, scale

    @property
    def name(self) -> str:
        return f"decimal({self.precision},{self.scale})"

    @property
    def duckdb(self) -> str:
        return f"DECIMAL({min(self.precision, 38)},{self.scale})"

    def __repr__(self) -> str:
        return f"DecimalType({self.precision}, {self.scale})"


class ArrayType(DataType):
    def __init__(self, elementType: DataType, containsNull: bool = True) -> None:  # noqa: N803
        self.elementType, self.containsNull = elementType, containsNull

    @property
    def name(self) -> str:
        return f"array<{self.elementType.simpleString()}>"

    @property
    def duckdb(self) -> str:
        return f"{self.elementType.duckdb}[]"

    def __repr__(self) -> str:
        return f"ArrayType({self.elementType!r}, {self.containsNull})"


class MapType(DataType):
    def __init__(self, keyType: DataType, valueType: DataType, valueContainsNull: bool = True) -> None:  # noqa: N803
        self.keyType, self.valueType, self.valueContainsNull = keyType, valueType, valueContainsNull

    @property
    def name(self) -> str:
        return f"map<{self.keyType.simpleString()},{self.valueType.simpleString()}>"

    @property
    def duckdb(self) -> str:
        return f"MAP({self.keyType.duckdb}, {self.valueType.duckdb})"

    def __repr__(self) -> str:
        return f"MapType({self.keyType!r}, {self.valueType!r}, {self.valueContainsNull})"


class StructField(DataType):
    def __init__(self, name: str, dataType: DataType, nullable: bool = True, metadata: dict | None = None) -> None:  # noqa: N803
        self.name, self.dataType, self.nullable, self.metadata = name, dataType, nullable, metadata or {}

    def simpleString(self) -> str:  # noqa: N802
        return f"{self.name}:{self.dataType.simpleString()}"

    def __repr__(self) -> str:
        return f"StructField('{self.name}', {self.dataType!r}, {self.nullable})"


class StructType(DataType):
    def __init__(self, fields: list[StructField] | None = None) -> None:
        self.fields = list(fields or [])

    @property
    def names(self) -> list[str]:
        return [field.name for field in self.fields]

    def fieldNames(self) -> list[str]:  # noqa: N802
        return self.names

    def add(self, field, data_type=None, nullable: bool = True, metadata=None) -> "StructType":
        if isinstance(field, StructField):
            self.fields.append(field)
        else:
            kind = _parse_type(data_type) if isinstance(data_type, str) else data_type
            self.fields.append(StructField(field, kind, nullable, metadata))
        return self

    def simpleString(self) -> str:  # noqa: N802
        return f"struct<{','.join(field.simpleString() for field in self.fields)}>"

    @property
    def duckdb(self) -> str:
        return "STRUCT(" + ", ".join(f'"{f.name}" {f.dataType.duckdb}' for f in self.fields) + ")"

    def __iter__(self):
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __getitem__(self, key):
        if isinstance(key, str):
            return next(field for field in self.fields if field.name == key)
        return self.fields[key]

    def __repr__(self) -> str:
        return f"StructType([{', '.join(map(repr, self.fields))}])"


class Row(tuple):
    """A row: ``Row(word='a', total=2)``, or ``Row('word', 'total')`` making rows of those fields, as PySpark's."""

    __fields__: list[str]

    def __new__(cls, *args: Any, **kwargs: Any) -> "Row":
        if args and kwargs:
            raise ValueError("Can not use both args and kwargs to create Row")
        if kwargs:
            row = tuple.__new__(cls, list(kwargs.values()))
            row.__fields__ = list(kwargs)
            return row
        return tuple.__new__(cls, args)

    def asDict(self, recursive: bool = False) -> dict:  # noqa: N802
        if not hasattr(self, "__fields__"):
            raise TypeError("Cannot convert a Row class into dict")
        if not recursive:
            return dict(zip(self.__fields__, self))

        def convert(value):
            if isinstance(value, Row):
                return value.asDict(True)
            if isinstance(value, list):
                return [convert(v) for v in value]
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            return value

        return {name: convert(value) for name, value in zip(self.__fields__, self)}

    def __contains__(self, item) -> bool:
        return item in self.__fields__ if hasattr(self, "__fields__") else tuple.__contains__(self, item)

    def __call__(self, *args: Any) -> "Row":
        """A row of this row's field names (``Person = Row('name', 'age'); Person('Ann', 3)``)."""
        if len(args) > len(self):
            raise ValueError(f"Can not create Row with fields {self}, expected {len(self)} values but got {args}")
        return _row(list(self), args)

    def __getitem__(self, item):
        if isinstance(item, (int, slice)):
            return tuple.__getitem__(self, item)
        try:
            return tuple.__getitem__(self, self.__fields__.index(item))
        except (IndexError, ValueError, AttributeError):
            raise KeyError(item) from None

    def __getattr__(self, item: str):
        if item.startswith("__"):
            raise AttributeError(item)
        try:
            return tuple.__getitem__(self, self.__fields__.index(item))
        except (IndexError, ValueError, AttributeError):
            raise AttributeError(item) from None

    def __setattr__(self, key, value) -> None:
        if key != "__fields__":
            raise RuntimeError("Row is read-only")
        self.__dict__[key] = value

    def __reduce__(self):
        if hasattr(self, "__fields__"):
            return _row, (self.__fields__, tuple(self))
        return tuple.__reduce__(self)

    def __repr__(self) -> str:
        if hasattr(self, "__fields__"):
            return "Row(" + ", ".join(f"{k}={v!r}" for k, v in zip(self.__fields__, tuple(self))) + ")"
        return "<Row(" + ", ".join(f"'{field}'" for field in self) + ")>"


def _row(fields: list[str], values) -> Row:
    row = tuple.__new__(Row, values)
    row.__fields__ = list(fields)
    return row


# --- inference, as PySpark's createDataFrame infers a schema from Python values --------------------------------
def infer_type(value) -> DataType:
    if value is None:
        return NullType()
    if isinstance(value, bool):
        return BooleanType()
    if isinstance(value, int):
        return LongType()
    if isinstance(value, float):
        return DoubleType()
    if isinstance(value, str):
        return StringType()
    if isinstance(value, (bytes, bytearray)):
        return BinaryType()
    if isinstance(value, decimal.Decimal):
        return DecimalType(38, 18)
    if isinstance(value, datetime.datetime):
        return TimestampType()
    if isinstance(value, datetime.date):
        return DateType()
    if isinstance(value, (list, tuple)) and not hasattr(value, "__fields__"):
        element = next((infer_type(v) for v in value if v is not None), NullType())
        return ArrayType(element, True)
    if isinstance(value, dict):
        key, item = next(iter(value.items()), (None, None))
        return MapType(infer_type(key), infer_type(item), True)
    if isinstance(value, Row):
        return infer_schema(value)
    raise TypeError(f"not supported type: {type(value)}")


def infer_schema(record, names: list[str] | None = None) -> StructType:
    """PySpark's ``_infer_schema``: a dict by its sorted keys, a Row by its fields, a tuple as _1, _2, ..."""
    if isinstance(record, dict):
        items = sorted(record.items())
    elif isinstance(record, Row) and hasattr(record, "__fields__"):
        items = list(zip(record.__fields__, record))
    elif isinstance(record, (tuple, list)):
        items = list(zip(names or [f"_{i}" for i in range(1, len(record) + 1)], record))
    else:
        raise TypeError(f"Can not infer schema for type: {type(record)}")
    if names:
        items = [(name, value) for name, (_, value) in zip(names, items)]
    return StructType([StructField(name, infer_type(value), True) for name, value in items])


def merge_types(a: DataType, b: DataType) -> DataType:
    if isinstance(a, NullType):
        return b
    if isinstance(b, NullType) or a == b:
        return a
    if isinstance(a, StructType) and isinstance(b, StructType):
        theirs = {field.name: field.dataType for field in b.fields}
        fields = [StructField(f.name, merge_types(f.dataType, theirs.get(f.name, NullType()))) for f in a.fields]
        fields += [field for field in b.fields if field.name not in a.names]
        return StructType(fields)
    raise TypeError(f"[CANNOT_MERGE_TYPE] Can not merge type `{type(a).__name__}` and `{type(b).__name__}`.")


# --- DDL strings: "word string, total bigint" -------------------------------------------------------------------
_NAMED = {"string": StringType, "varchar": StringType, "binary": BinaryType, "boolean": BooleanType,
          "tinyint": ByteType, "byte": ByteType, "smallint": ShortType, "short": ShortType, "int": IntegerType,
          "integer": IntegerType, "bigint": LongType, "long": LongType, "float": FloatType, "real": FloatType,
          "double": DoubleType, "date": DateType, "timestamp": TimestampType, "void": NullType}


def _parse_type(text: str) -> DataType:
    text = text.strip().lower()
    if text in _NAMED:
        return _NAMED[text]()
    match = re.fullmatch(r"decimal\s*\((\d+)\s*,\s*(\d+)\)", text)
    if match:
        return DecimalType(int(match.group(1)), int(match.group(2)))
    match = re.fullmatch(r"array\s*<(.+)>", text)
    if match:
        return ArrayType(_parse_type(match.group(1)))
    match = re.fullmatch(r"map\s*<([^,]+),(.+)>", text)
    if match:
        return MapType(_parse_type(match.group(1)), _parse_type(match.group(2)))
    raise ValueError(f"[PARSE_SYNTAX_ERROR] unknown type {text!r}")


def parse_ddl(text: str) -> StructType:
    """A schema as a DDL string: ``"word string, total bigint"`` (or ``"word: string"``)."""
    fields = []
    for part in filter(None, (p.strip() for p in re.split(r",(?![^<(]*[>)])", text))):
        name, _, kind = part.replace(":", " ", 1).partition(" ")
        fields.append(StructField(name.strip("`"), _parse_type(kind)))
    return StructType(fields)


def from_duckdb(kind: str) -> DataType:
    """Spark's type for a DuckDB result column (DuckDB's HUGEINT sums are Spark's bigint)."""
    kind = str(kind).upper()
    simple = {"VARCHAR": StringType, "BIGINT": LongType, "HUGEINT": LongType, "INTEGER": IntegerType,
              "SMALLINT": ShortType, "TINYINT": ByteType, "DOUBLE": DoubleType, "FLOAT": FloatType,
              "BOOLEAN": BooleanType, "DATE": DateType, "TIMESTAMP": TimestampType, "BLOB": BinaryType,
              "NULL": NullType, '"NULL"': NullType, "UBIGINT": LongType, "UINTEGER": LongType}
    if kind in simple:
        return simple[kind]()
    match = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", kind)
    if match:
        return DecimalType(int(match.group(1)), int(match.group(2)))
    if kind.endswith("[]"):
        return ArrayType(from_duckdb(kind[:-2]))
    return StringType()


__all__ = ["ArrayType", "BinaryType", "BooleanType", "ByteType", "DataType", "DateType", "DecimalType",
           "DoubleType", "FloatType", "IntegerType", "LongType", "MapType", "NullType", "Row", "ShortType",
           "StringType", "StructField", "StructType", "TimestampType"]
