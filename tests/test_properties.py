"""Properties: the fused and fast paths equal a straightforward reference model, on random chains and batches."""
import operator
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dstream_cli import RunOptions, StreamingContext
from dstream_cli.expr import binary_reducer, compile_function

words = st.sampled_from(["a", "b", "c", "ü", "dd", ""])
lines = st.lists(words, max_size=6).map(" ".join)
batches = st.lists(st.lists(lines, max_size=8), min_size=1, max_size=6)

# (CLI-style expression stages, reference function over one batch)
STAGES = {
    "split": (lambda s: s.flat_map(compile_function("x.split()", ("x",), "t")), lambda b: [w for x in b for w in x.split()]),
    "upper": (lambda s: s.map(compile_function("x.upper()", ("x",), "t")), lambda b: [x.upper() for x in b]),
    "nonempty": (lambda s: s.filter(compile_function("len(x) > 0", ("x",), "t")), lambda b: [x for x in b if len(x) > 0]),
    "pair1-sum": (lambda s: s.map(compile_function("(x, 1)", ("x",), "t")).reduce_by_key(binary_reducer("sum", "t")),
                  lambda b: list(Counter(b).items())),
    "pair3-sum": (lambda s: s.map(compile_function("(x, 3)", ("x",), "t")).reduce_by_key(binary_reducer("sum", "t")),
                  lambda b: [(k, 3 * n) for k, n in Counter(b).items()]),
    "pair2-lambda": (lambda s: s.map(compile_function("(x, 2)", ("x",), "t")).reduce_by_key(
        compile_function("a + b", ("a", "b"), "t")), lambda b: [(k, 2 * n) for k, n in Counter(b).items()]),
    "first": (lambda s: s.map(compile_function("x[0]", ("x",), "t")), lambda b: [x[0] for x in b if len(x)]),
    "count-by-value": (lambda s: s.count_by_value(), lambda b: list(Counter(b).items())),
    "distinct": (lambda s: s.distinct(), lambda b: list(dict.fromkeys(b))),
}


def reference_reduce_by_key(batch):
    totals = {}
    for k, v in batch:
        totals[k] = totals[k] + v if k in totals else v
    return list(totals.items())


@settings(max_examples=250, deadline=None)
@given(batches, st.lists(st.sampled_from(sorted(STAGES)), min_size=1, max_size=4), st.sampled_from([None, 1, 2, 5]))
def test_random_stateless_chains_equal_the_reference(data, names, slice_records):
    """Any chain of these stages gives, batch by batch, what applying each reference function gives,
    whether a batch runs whole or in slices (the slice size made small so that small batches are cut)."""
    from dstream_cli.ops import transformed

    saved = transformed.SLICE_RECORDS
    transformed.SLICE_RECORDS = slice_records or saved
    try:
        got, expected = run_chain(data, names)
    finally:
        transformed.SLICE_RECORDS = saved
    assert got == expected


def run_chain(data, names):
    ssc = StreamingContext(1, on_error="skip")  # 'first' skips empty words, as its reference does
    stream = ssc.queue_stream(data)
    expected = [list(b) for b in data]
    pair_stage_seen = False
    for name in names:
        if pair_stage_seen:  # after a (k, v) stage, only stages that accept anything hashable
            if name in ("split", "upper", "nonempty"):
                continue
        build, reference = STAGES[name]
        stream = build(stream)
        expected = [reference(b) for b in expected]
        pair_stage_seen = pair_stage_seen or name in ("pair1-sum", "pair3-sum", "pair2-lambda", "count-by-value")
    got = []
    stream.foreach_batch(lambda b: got.append(list(b)))
    ssc.run()
    return got, expected


@settings(max_examples=100, deadline=None)
@given(batches, st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=3))
def test_inverse_window_equals_recomputing_each_window(data, window_slides, slide):
    """reduce_by_key_and_window with an inverse equals summing the window from scratch (keys at 0 aside)."""
    ssc = StreamingContext(1)
    got = []
    pairs = ssc.queue_stream(data).flat_map(str.split).map(lambda w: (w, 1))
    pairs.reduce_by_key_and_window(operator.add, operator.sub, window_slides * slide, slide).foreach_batch(
        lambda t, b: got.append((t, {k: v for k, v in b if v})))
    total = len(data) + window_slides * slide
    ssc.run(RunOptions(batches=total))
    words_per_batch = [[w for line in b for w in line.split()] for b in data] + [[]] * (total - len(data))
    for t, window in got:
        i = t // 1000
        covered = words_per_batch[max(0, i - window_slides * slide): i]
        expected = Counter(w for b in covered for w in b)
        assert window == dict(expected), (t, window, expected)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_queue_reader_and_parsers_survive_random_bytes(blob):
    """Random bytes through the queue reader and every --format: records or clean bad-record reports only."""
    import io

    for fmt in ("text", "json", "csv", "tsv"):
        ssc = StreamingContext(1, on_error="skip")
        ssc.queue_file_stream(io.BytesIO(blob), fmt=fmt).count().foreach_batch(lambda b: None)
        ssc.run()
        assert ssc.record_errors.skipped >= 0


def test_fast_word_count_names_a_bad_record_like_the_plain_path():
    """A non-str element makes the split fast path fall back; the failing record is still named."""
    import pytest

    from dstream_cli import StageFailed

    ssc = StreamingContext(1)
    split = compile_function("x.split()", ("x",), "stage 1 (flat-map 'x.split()')")
    ssc.queue_stream([["a b", 3]]).flat_map(split).foreach_batch(lambda b: None)
    with pytest.raises(StageFailed, match="record 3"):
        ssc.run()



# --- window and state stages against list-of-batches definitions ---------------------------------
def words_of(batch):
    return [w for line in batch for w in line.split()]


def window_reference(per_batch, i, length, slide):
    """Spark's window at batch i (1-based, zero time 0): the batches in (i - length, i], when i is on the slide."""
    if i % slide:
        return None
    return [x for b in per_batch[max(0, i - length): i] for x in b]


def state_reference(per_batch, update):
    """updateStateByKey by definition: every key with new values or state, updated once per batch."""
    state, out = {}, []
    for batch in per_batch:
        values: dict = {}
        for key, value in batch:
            values.setdefault(key, []).append(value)
        for key in list(dict.fromkeys([*state, *values])):
            new = update(values.get(key, []), state.get(key))
            if new is None:
                state.pop(key, None)
            else:
                state[key] = new
        out.append(dict(state))
    return out


def expire_at_three(values, total):
    total = (total or 0) + sum(values)
    return None if total >= 3 else total


@settings(max_examples=120, deadline=None)
@given(batches, st.sampled_from(["window", "reduce-by-key-and-window", "inverse", "update-state", "expire"]),
       st.integers(min_value=1, max_value=4), st.integers(min_value=1, max_value=2), st.booleans())
def test_random_window_and_state_chains_equal_the_definitions(data, kind, slides, slide, then_filter):
    """A stateless prefix, a window or state stage, maybe a stateless stage after it: batch for batch as defined."""
    length = slides * slide
    total = len(data) + length + 1
    ssc = StreamingContext(1)
    pairs = ssc.queue_stream(data).flat_map(str.split).map(lambda w: (w, 1))
    if kind == "window":
        stream = pairs.window(length, slide)
    elif kind == "reduce-by-key-and-window":
        stream = pairs.reduce_by_key_and_window(operator.add, None, length, slide)
    elif kind == "inverse":
        stream = pairs.reduce_by_key_and_window(operator.add, operator.sub, length, slide,
                                                filter_func=lambda kv: kv[1] > 0)
    elif kind == "update-state":
        stream = pairs.update_state_by_key(lambda values, state: sum(values) + (state or 0))
    else:
        stream = pairs.update_state_by_key(expire_at_three)
    if then_filter:
        stream = stream.filter(lambda kv: kv[0] != "a")
    got = []
    stream.foreach_batch(lambda t, b: got.append((t // 1000, list(b))))
    ssc.run(RunOptions(batches=total))

    per_batch = [[(w, 1) for w in words_of(b)] for b in data] + [[]] * (total - len(data))
    keep = (lambda kv: kv[0] != "a") if then_filter else (lambda kv: True)
    if kind in ("update-state", "expire"):
        update = expire_at_three if kind == "expire" else (lambda values, state: sum(values) + (state or 0))
        expected = [(i + 1, {k: v for k, v in s.items() if keep((k, v))})
                    for i, s in enumerate(state_reference(per_batch, update))]
        assert [(i, dict(b)) for i, b in got] == expected
        return
    expected = []
    for i in range(1, total + 1):
        window = window_reference(per_batch, i, length, slide)
        if window is None:
            continue
        if kind == "window":
            expected.append((i, [kv for kv in window if keep(kv)]))
        else:
            counts = {k: v for k, v in Counter(k for k, _ in window).items() if keep((k, v))}
            expected.append((i, counts))
    if kind == "window":
        assert got == expected
    else:
        assert [(i, dict(b)) for i, b in got] == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from("abcd"),
                                   st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 1e16]))), max_size=4),
                max_size=24),
       st.integers(min_value=5, max_value=7), st.integers(min_value=1, max_value=2))
def test_a_window_summed_without_an_inverse_equals_summing_each_window_afresh(data, slides, slide):
    """A long window of sums is kept incrementally while its values are whole numbers, and summed afresh when a
    float comes: either way each window holds exactly the keys of its batches, a sum of zero included, with the
    sums Spark's order gives (each batch reduced, then the batches oldest first)."""
    length = slides * slide
    total = len(data) + length + 1
    ssc = StreamingContext(1)
    got = []
    ssc.queue_stream(data).reduce_by_key_and_window(operator.add, None, length, slide).foreach_batch(
        lambda t, b: got.append((t // 1000, dict(b))))
    ssc.run(RunOptions(batches=total))
    per_batch = []
    for batch in data + [[]] * (total - len(data)):
        sums: dict = {}
        for key, value in batch:
            sums[key] = sums[key] + value if key in sums else value
        per_batch.append(sums)
    expected = []
    for i in range(slide, total + 1, slide):
        window: dict = {}
        for sums in per_batch[max(0, i - length): i]:
            for key, value in sums.items():
                window[key] = window[key] + value if key in window else value
        expected.append((i, window))
    assert got == expected
