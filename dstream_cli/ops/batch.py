"""Pure batch functions: one stateless stage as ``list -> list``, with no notion of time or graph.

Each stage becomes a :class:`Step`: a ``fast`` path that runs over the whole batch with C-level
loops (``map``, ``filter``, comprehensions), and a ``slow`` path, taken only when the fast one
raised, that processes record by record so the failing record can be named, skipped or
dead-lettered while the others go on.
"""
from __future__ import annotations

import functools
import itertools
import operator
from collections import Counter
from typing import Callable, Iterable, Iterator, NamedTuple

from ..errors import RECORD_ERRORS, BadRecord
from ..expr import comprehension, over_records
from ..formats import batch_parser, line_parser

Reject = Callable[[str, object, BaseException], None]


class Fold(NamedTuple):
    """A reduction fed slice by slice: ``add(acc, part)`` updates ``acc = start()``, ``finish(acc)`` is the batch.
    ``merge(acc, later)`` adds what another accumulator took from the records after this one's (--workers)."""

    start: Callable[[], object]
    add: Callable[[object, list], None]
    finish: Callable[[object], list]
    merge: Callable[[object, object], None]


class Step(NamedTuple):
    label: str
    fast: Callable[[list, int], list]
    slow: Callable[[list, int, Reject], list]
    #: what fusion looks for: ("pair", c) marks ``map '(x, c)'``, ("sum",) ``reduce-by-key sum``
    shape: tuple = ()
    #: record by record, so running it on slices of a batch and joining the results changes nothing
    sliceable: bool = False
    #: a reduction that can take its batch in slices
    fold: Fold | None = None
    #: for a step whose records may each give many (flat-map): its output over a slice as an iterator,
    #: so that it is taken a slice at a time instead of held whole
    lazy: Callable[[list], Iterator] | None = None


def _source_shape(f) -> tuple:
    """Recognise the expressions that have C-speed equivalents: ``x.split()``; ``(KEY, <int>)`` (before a
    sum it becomes a Counter of KEY: ``x`` itself, ``x.method()``, ``x[k]``, or any expression of x);
    and ``x[<constant>]`` or a tuple of them (``operator.itemgetter``, and the constants)."""
    import ast

    source = getattr(f, "__dstream_source__", None)
    if source is None:
        return ()
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        return ()
    if ast.dump(tree) == ast.dump(ast.parse("x.split()", mode="eval").body):
        return ("split",)
    if (isinstance(tree, ast.Tuple) and len(tree.elts) == 2 and isinstance(tree.elts[1], ast.Constant)
            and type(tree.elts[1].value) is int):
        return ("pair", tree.elts[1].value, _keys_function(tree.elts[0], f, ast))
    items = tree.elts if isinstance(tree, ast.Tuple) and len(tree.elts) >= 2 else [tree]
    keys = [_constant_subscript_of_x(item, ast) for item in items]
    if all(key is not _NOT_CONSTANT for key in keys):
        return ("items", operator.itemgetter(*keys), tuple(keys))
    return ()


_NOT_CONSTANT = object()


def item_getter_of(f) -> Callable | None:
    """``operator.itemgetter(K)`` where *f* is the expression ``x[K]`` (a literal K), else None."""
    shape = _source_shape(f)
    return shape[1] if shape and shape[0] == "items" and len(shape[2]) == 1 else None


def _keys_function(node, f, ast) -> Callable[[list], Iterable] | None:
    """The keys of ``(KEY, c)`` over a list of records, in C or in one comprehension; None for x itself."""
    if isinstance(node, ast.Name) and node.id == "x":
        return None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "x" and not node.args and not node.keywords):
        return functools.partial(map, operator.methodcaller(node.func.attr))
    key = _constant_subscript_of_x(node, ast)
    if key is not _NOT_CONSTANT:
        return functools.partial(map, operator.itemgetter(key))
    keys_of = comprehension(node, "x", f.__globals__, "<key>")
    if keys_of is not None:
        return keys_of
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(arg="x")], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
    expression = ast.fix_missing_locations(ast.Expression(body=ast.Lambda(args=arguments, body=node)))
    return functools.partial(map, eval(compile(expression, "<key>", "eval"), f.__globals__))  # noqa: S307


def _constant_subscript_of_x(node, ast):
    """K for ``x[K]`` with a literal str or int K; otherwise _NOT_CONSTANT."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "x"
            and isinstance(node.slice, ast.Constant) and type(node.slice.value) in (str, int)):
        return node.slice.value
    return _NOT_CONSTANT


def per_record_step(label: str, fast: Callable[[list], list], one: Callable[[object, list], None]) -> Step:
    """A step whose slow path calls ``one(record, out)`` for each record, isolating failures."""

    def slow(batch, t, reject):
        out: list = []
        for record in batch:
            try:
                one(record, out)
            except RECORD_ERRORS as exc:  # noqa: BLE001 - any error of a user function is a bad record
                reject(label, record, exc)
        return out

    return Step(label, lambda batch, t: fast(batch), slow, sliceable=True)


def whole_batch_step(label: str, fast: Callable[[list, int], list]) -> Step:
    """A step that cannot be split by record (``transform``): a failure rejects the batch."""

    def slow(batch, t, reject):
        try:
            return fast(batch, t)
        except RECORD_ERRORS as exc:  # noqa: BLE001
            reject(label, batch, exc, whole_batch=True)
            return []

    return Step(label, fast, slow)


def map_step(f, label):
    shape = _source_shape(f)
    # itemgetter does in C what the expression does; on a missing key the slow path names the record
    if shape[:1] == ("items",):
        getter = shape[1]
        fast = lambda b: list(map(getter, b))  # noqa: E731
    else:
        fast = over_records(f) or (lambda b: list(map(f, b)))
    step = per_record_step(label, fast, lambda x, out: out.append(f(x)))
    return step._replace(shape=shape)


def flat_map_step(f, label):
    if _source_shape(f) == ("split",):
        # The lines of a batch split on whitespace, joined or not, give the same words: one C call.
        fast = lambda b: " ".join(b).split()  # noqa: E731 - raises on a non-str, then the slow path names it
        return per_record_step(label, fast, lambda x, out: out.extend(f(x)))._replace(shape=("split",))
    lazy = lambda b: itertools.chain.from_iterable(map(f, b))  # noqa: E731
    step = per_record_step(label, lambda b: list(lazy(b)), lambda x, out: out.extend(f(x)))
    return step._replace(lazy=lazy)


def count_pairs_step(pair: Step, reduce: Step) -> Step:
    """``map '(KEY, c)'`` then ``reduce-by-key sum`` as one Counter of the keys; the two steps' slow paths on error."""
    _, constant, keys_of = pair.shape
    count = Counter if keys_of is None else (lambda batch: Counter(keys_of(batch)))

    def add(counts: Counter, part: list) -> None:
        counts.update(part if keys_of is None else keys_of(part))

    def finish(counts: Counter) -> list:
        return list(counts.items()) if constant == 1 else [(k, n * constant) for k, n in counts.items()]

    def slow(batch, t, reject):
        return reduce.slow(pair.slow(batch, t, reject), t, reject)

    return Step(reduce.label, lambda batch, t: finish(count(batch)), slow,
                fold=Fold(Counter, add, finish, Counter.update))


def sum_items_step(items: Step, reduce: Step) -> Step:
    """``map '(x[K], x[V])'`` then ``reduce-by-key sum`` as one loop that sums ``x[V]`` by ``x[K]``, making no
    pair; the two steps' slow paths on error."""
    key, value = items.shape[2]

    def add(totals: dict, part: list) -> None:
        get = totals.get
        for record in part:
            k = record[key]
            previous = get(k, _MISSING)
            totals[k] = record[value] if previous is _MISSING else previous + record[value]

    def fast(batch, t):
        totals: dict = {}
        add(totals, batch)
        return list(totals.items())

    def slow(batch, t, reject):
        return reduce.slow(items.slow(batch, t, reject), t, reject)

    return Step(reduce.label, fast, slow, fold=Fold(dict, add, _items, reduce.fold.merge))


def filter_step(f, label):
    def one(x, out):
        if f(x):
            out.append(x)

    return per_record_step(label, over_records(f, keep=True) or (lambda b: list(filter(f, b))), one)


def map_values_step(f, label):
    def one(record, out):
        key, value = as_pair(record)
        out.append((key, f(value)))

    return per_record_step(label, lambda b: [(k, f(v)) for k, v in require_pairs(b)], one)


def flat_map_values_step(f, label):
    def one(record, out):
        key, value = as_pair(record)
        out.extend((key, w) for w in f(value))

    return per_record_step(label, lambda b: [(k, w) for k, v in require_pairs(b) for w in f(v)], one)


def key_by_step(f, label):
    return per_record_step(label, lambda b: [(f(x), x) for x in b], lambda x, out: out.append((f(x), x)))


def parse_step(fmt, label):
    parse = line_parser(fmt) or str
    parse_all = batch_parser(fmt)

    def one(line, out):
        try:
            out.append(parse(line))
        except RECORD_ERRORS as exc:  # noqa: BLE001 - csv, orjson and int() fail in their own ways
            raise BadRecord(f"not valid {fmt}: {exc}") from exc

    # ("parse", "json"): its input may be a chunk's lines as bytes (ops/transformed.py), which it parses as they are
    return per_record_step(label, parse_all, one)._replace(shape=("parse", fmt))


def identity_step(label):
    return per_record_step(label, list, lambda x, out: out.append(x))


#: records Python would unpack as two items but that are not pairs: 'to' would become ('t', 'o')
_NOT_PAIRS = (str, bytes, bytearray, dict, set, frozenset)
_PAIR_TYPES = frozenset({tuple, list})


def as_pair(record) -> tuple:
    """``(key, value)`` of a pair record, or a TypeError saying that the stage needs pairs."""
    if isinstance(record, _NOT_PAIRS):
        raise TypeError(f"needs (key, value) pairs, not a {type(record).__name__}")
    try:
        key, value = record
    except (TypeError, ValueError):
        length = f" of {len(record)} items" if hasattr(record, "__len__") else ""
        raise TypeError(f"needs (key, value) pairs, not a {type(record).__name__}{length}") from None
    return key, value


def require_pairs(batch: list) -> list:
    """*batch*, if every record is a tuple or list (the fast paths' unpacking then checks the length);
    otherwise raise, so the slow path looks at each record with ``as_pair``. One C-level pass."""
    if not _PAIR_TYPES.issuperset(map(type, batch)):
        raise TypeError("not every record is a tuple or list")
    return batch


def reduce_by_key_step(f, label):
    def add(totals: dict, batch: list) -> None:
        for key, value in require_pairs(batch):
            totals[key] = f(totals[key], value) if key in totals else value

    if f is operator.add:
        add = _add_sums

    def slow(batch, t, reject):
        totals: dict = {}
        for record in batch:
            try:
                key, value = as_pair(record)
                totals[key] = f(totals[key], value) if key in totals else value
            except RECORD_ERRORS as exc:  # noqa: BLE001
                reject(label, record, exc)
        return list(totals.items())

    def fast(batch, t):
        totals: dict = {}
        add(totals, batch)
        return list(totals.items())

    def merge(totals: dict, later: dict) -> None:
        add(totals, list(later.items()))

    return Step(label, fast, slow, ("sum",) if f is operator.add else (), fold=Fold(dict, add, _items, merge))


_MISSING = object()


def _add_sums(totals: dict, batch: list) -> None:
    get = totals.get
    for key, value in require_pairs(batch):
        previous = get(key, _MISSING)
        totals[key] = value if previous is _MISSING else previous + value


def _items(mapping: dict) -> list:
    return list(mapping.items())


def reduce_step(f, label):
    def fast(batch):
        values = iter(batch)
        total = next(values, _MISSING)
        if total is _MISSING:
            return []
        for value in values:
            total = f(total, value)
        return [total]

    def slow(batch, t, reject):
        out: list = []
        for record in batch:
            try:
                out = [f(out[0], record)] if out else [record]
            except RECORD_ERRORS as exc:  # noqa: BLE001
                reject(label, record, exc)
        return out

    def add(total: list, part: list) -> None:
        values = iter(part)
        if not total:
            first = next(values, _MISSING)
            if first is _MISSING:
                return
            total.append(first)
        for value in values:
            total[0] = f(total[0], value)

    return Step(label, lambda batch, t: fast(batch), slow, fold=Fold(list, add, list, add))


def _add_count(total: list, part: list) -> None:
    total[0] += len(part)


def _merge_count(total: list, later: list) -> None:
    total[0] += later[0]


def count_step(label):
    return Step(label, lambda batch, t: [len(batch)], lambda batch, t, reject: [len(batch)],
                fold=Fold(lambda: [0], _add_count, list, _merge_count))


def count_by_value_step(label):
    def slow(batch, t, reject):
        counts: Counter = Counter()
        for record in batch:
            try:
                counts[record] += 1
            except TypeError as exc:
                reject(label, record, exc)
        return list(counts.items())

    return Step(label, lambda batch, t: list(Counter(batch).items()), slow,
                fold=Fold(Counter, Counter.update, _items, Counter.update))


def group_pairs(pairs: list) -> dict:
    """Each key's values, in arrival order, from a batch that ``require_pairs`` let through."""
    groups: dict = {}
    for key, value in pairs:
        if key in groups:
            groups[key].append(value)
        else:
            groups[key] = [value]
    return groups


def group_by_key_step(label):
    def fast(batch):
        return list(group_pairs(require_pairs(batch)).items())

    def slow(batch, t, reject):
        groups: dict = {}
        for record in batch:
            try:
                key, value = as_pair(record)
                groups.setdefault(key, []).append(value)
            except RECORD_ERRORS as exc:  # noqa: BLE001
                reject(label, record, exc)
        return list(groups.items())

    return Step(label, lambda batch, t: fast(batch), slow)


def distinct_step(label):
    def slow(batch, t, reject):
        seen: dict = {}
        for record in batch:
            try:
                seen[record] = None
            except TypeError as exc:
                reject(label, record, exc)
        return list(seen)

    return Step(label, lambda batch, t: list(dict.fromkeys(batch)), slow)


def as_list(batch) -> list:
    """*batch* as a list that user code may keep or change: a view (a window's contents) is copied."""
    return batch if isinstance(batch, list) else list(batch)


def combine_by_key(parts: Iterable[list], create_combiner: Callable, merge_value: Callable,
                   merge_combiners: Callable) -> list:
    """Spark's ``combineByKey`` over a batch's partitions: each combines its values per key, then the partitions'
    combiners are merged, in partition order."""
    combined: dict = {}
    for part in parts:
        local: dict = {}
        for key, value in part:
            local[key] = merge_value(local[key], value) if key in local else create_combiner(value)
        for key, combiner in local.items():
            combined[key] = merge_combiners(combined[key], combiner) if key in combined else combiner
    return list(combined.items())


def without_time(f: Callable) -> Callable:
    """*f* of batches only, called as ``f(time_ms, *batches)``."""
    return lambda t, *batches: f(*batches)


def with_time(f: Callable, arguments: int) -> Callable:
    """*f* called as ``f(time_ms, *batches)``: as it is when it takes *arguments* (PySpark's optional time
    first), else without the time."""
    takes_time = getattr(getattr(f, "__code__", None), "co_argcount", arguments - 1) >= arguments
    return f if takes_time else without_time(f)


def transform_step(f, label):
    call = with_time(f, 2)

    def fast(batch, t):
        result = call(t, as_list(batch))
        return [] if result is None else list(result)

    return whole_batch_step(label, fast)


# --- several streams: (left batch, right batch) -> batch, in first-appearance order ------------
def _index(pairs: list) -> dict:
    index: dict = {}
    for key, value in pairs:
        index.setdefault(key, []).append(value)
    return index


def join(left: list, right: list) -> list:
    right_index = _index(right)
    return [(k, (v, w)) for k, v in left for w in right_index.get(k, ())]


def left_outer_join(left: list, right: list) -> list:
    right_index = _index(right)
    return [(k, (v, w)) for k, v in left for w in right_index.get(k, (None,))]


def right_outer_join(left: list, right: list) -> list:
    left_index = _index(left)
    return [(k, (v, w)) for k, w in right for v in left_index.get(k, (None,))]


def full_outer_join(left: list, right: list) -> list:
    left_index = _index(left)
    only_right = [(k, (None, w)) for k, w in right if k not in left_index]
    return left_outer_join(left, right) + only_right


def cogroup(left: list, right: list) -> list:
    groups: dict = {}
    for side, pairs in ((0, left), (1, right)):
        for key, value in pairs:
            groups.setdefault(key, ([], []))[side].append(value)
    return list(groups.items())


# --- small named functions the derived window operators are composed of (as in PySpark) -------
def key_with_one(x):
    return (1, x)


def pair_with_one(x):
    return (x, 1)


def one(x):
    return 1


def value_positive(kv):
    return kv[1] > 0
