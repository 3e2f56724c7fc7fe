"""The library's PySpark DStream API (snake_case), method by method; test_pyspark_dropin.py runs the same through
the camelCase drop-in. Queue contexts run on the simulated clock: no sleeping."""
import os
import threading
import time

import pytest
from conftest import wait_for
from hypothesis import given, settings
from hypothesis import strategies as st

from dstream_cli import StreamingContext, UsageError
from dstream_cli.errors import DstreamError
from dstream_cli.listener import StreamingListener
from dstream_cli.partitions import Partitioning, portable_hash


def batches_of(build, queued, batch="1s", **options) -> list:
    """What *build(stream)* gives per batch when *queued* are the input's batches."""
    ssc = StreamingContext(batch, **options)
    seen = []
    build(ssc.queue_stream(queued)).foreach_batch(seen.append)
    ssc.run()
    return seen


# --- partitions ------------------------------------------------------------------------------
def test_glom_shows_an_input_batch_in_the_context_partitions_sliced_in_order():
    got = batches_of(lambda s: s.glom(), [list(range(7)), []], partitions=3)
    assert got == [[[0, 1], [2, 3], [4, 5, 6]], [[], [], []]]


def test_repartition_and_a_queue_partition_count_are_what_glom_sees():
    assert batches_of(lambda s: s.repartition(2).glom(), [[1, 2, 3]]) == [[[1], [2, 3]]]
    ssc = StreamingContext(1)
    seen = []
    ssc.queue_stream([list(range(4))], partitions=4).glom().foreach_batch(seen.append)
    ssc.run()
    assert seen == [[[0], [1], [2], [3]]]


def test_reduce_by_key_with_a_partition_count_places_keys_by_their_portable_hash():
    pairs = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5)]
    got = batches_of(lambda s: s.reduce_by_key(lambda x, y: x + y, 2).glom(), [pairs])
    expected = [[], []]
    for key, total in [("a", 4), ("b", 2), ("c", 4), ("d", 5)]:
        expected[portable_hash(key) % 2].append((key, total))
    assert got == [expected]
    assert portable_hash("a") == portable_hash("a") and portable_hash(("a", 1)) == portable_hash(("a", 1))


def test_partition_by_uses_the_function_given():
    got = batches_of(lambda s: s.partition_by(3, lambda k: k).glom(), [[(0, "x"), (4, "y"), (2, "z"), (3, "w")]])
    assert got == [[[(0, "x"), (3, "w")], [(4, "y")], [(2, "z")]]]


def test_map_partitions_and_with_index_run_once_per_partition():
    calls = []

    def per_partition(records):
        calls.append(1)  # one connection per partition, say
        return [sum(records)]

    assert batches_of(lambda s: s.repartition(3).map_partitions(per_partition), [list(range(9))]) == [[3, 12, 21]]
    assert len(calls) == 3
    got = batches_of(lambda s: s.repartition(2).map_partitions_with_index(lambda i, it: [(i, list(it))]),
                     [[1, 2, 3, 4]])
    assert got == [[(0, [1, 2]), (1, [3, 4])]]


def test_combine_by_key_combines_within_partitions_then_merges_them():
    merges = []

    def merge_combiners(a, b):
        merges.append((a, b))
        return a + b

    got = batches_of(lambda s: s.repartition(2).combine_by_key(lambda v: [v], lambda c, v: c + [v], merge_combiners),
                     [[("k", 1), ("j", 2), ("k", 3), ("k", 4)]])
    assert got == [[("k", [1, 3, 4]), ("j", [2])]]
    assert merges == [([1], [3, 4])]  # partition [k1, j2] then [k3, k4]: k's combiners merged once


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(-5, 5)), max_size=30),
       st.integers(1, 6), st.integers(1, 6))
def test_results_do_not_depend_on_the_number_of_partitions(pairs, partitions, shuffle_partitions):
    def chain(s):
        return (s.repartition(partitions).map_values(lambda v: v * 2).reduce_by_key(lambda a, b: a + b,
                                                                                    shuffle_partitions)
                .filter(lambda kv: kv[1] != 0).map_partitions(lambda it: [kv for kv in it]))

    one = batches_of(lambda s: s.map_values(lambda v: v * 2).reduce_by_key(lambda a, b: a + b)
                     .filter(lambda kv: kv[1] != 0), [pairs])
    assert [sorted(b) for b in batches_of(chain, [pairs], partitions=partitions)] == [sorted(b) for b in one]


def test_a_partition_count_must_be_a_positive_whole_number():
    with pytest.raises(ValueError, match="positive whole number"):
        Partitioning(0)
    with pytest.raises(ValueError):
        StreamingContext(1).queue_stream([[1]]).repartition(-1)


# --- more DStream methods --------------------------------------------------------------------
def test_transform_with_takes_both_batches_and_optionally_the_time():
    ssc = StreamingContext(1)
    left, right = ssc.queue_stream([[1, 2], [3]]), ssc.queue_stream([["a"], ["b", "c"]])
    seen, timed = [], []
    left.transform_with(lambda a, b: [len(a), len(b)], right).foreach_batch(seen.append)
    left.transform_with(lambda t, a, b: [t], right).foreach_batch(timed.append)
    ssc.run()
    assert seen == [[2, 1], [1, 2]]
    assert timed == [[1000], [2000]]


def test_group_by_key_and_window_groups_each_key_over_the_window():
    got = batches_of(lambda s: s.group_by_key_and_window(2, 1), [[("a", 1)], [("a", 2), ("b", 3)], []])
    assert got == [[("a", [1])], [("a", [1, 2]), ("b", [3])], [("a", [2]), ("b", [3])]]


def test_update_state_by_key_starts_from_the_initial_pairs():
    got = batches_of(lambda s: s.update_state_by_key(lambda new, old: sum(new) + (old or 0),
                                                    initial=[("hello", 1), ("world", 1)]),
                     [[("hello", 1)], [("spark", 1)]])
    assert got == [[("hello", 2), ("world", 1)], [("hello", 2), ("world", 1), ("spark", 1)]]


def test_batches_handed_to_outputs_keep_their_state_when_the_update_changes_it_in_place():
    def append(new, state):
        state = state if state is not None else []
        state.extend(new)
        return state

    got = batches_of(lambda s: s.update_state_by_key(append), [[("a", i)] for i in range(5)])
    assert got == [[("a", list(range(i + 1)))] for i in range(5)]


def test_cache_persist_and_checkpoint_are_accepted_and_checkpoint_sets_the_interval():
    ssc = StreamingContext(1)
    stream = ssc.queue_stream([[1]])
    assert stream.cache() is stream and stream.persist("MEMORY_ONLY") is stream
    assert stream.checkpoint(3) is stream and ssc.checkpoint_interval_ms == 3000
    with pytest.raises(ValueError, match="not a multiple"):
        stream.checkpoint(1.5)


def test_a_bad_window_is_a_value_error_and_a_usage_error():
    stream = StreamingContext(1).queue_stream([[1]])
    with pytest.raises(ValueError) as raised:
        stream.window(2.5, 1)
    assert isinstance(raised.value, UsageError) and isinstance(raised.value, DstreamError)
    with pytest.raises(ValueError):
        stream.reduce_by_key_and_window(max, None, 2, 1.5)


# --- the context -----------------------------------------------------------------------------
def test_queue_stream_all_at_once_and_with_a_default_batch():
    assert batches_of(lambda s: s, [[1], [2, 3]]) == [[1], [2, 3]]
    ssc = StreamingContext(1)
    seen = []
    ssc.queue_stream([[1], [2, 3]], one_at_a_time=False).foreach_batch(seen.append)
    ssc.run()
    assert seen == [[1, 2, 3]]
    ssc = StreamingContext("10ms")
    seen = []
    ssc.queue_stream([[1]], default=[0]).foreach_batch(seen.append)
    ssc.start()
    wait_for(lambda: len(seen) >= 4, what="default batches")
    ssc.stop()
    ssc.await_termination(10)
    assert seen[0] == [1] and all(batch == [0] for batch in seen[1:])


def test_a_queue_only_context_ends_with_its_queue_unless_run_until_stopped():
    """Simulated: as many batches as queued, then the run returns. until_stopped: batches on the clock, empty ones
    after the queue, until stop()."""
    ssc = StreamingContext(1)
    seen = []
    ssc.queue_stream([[1], [2]]).foreach_batch(seen.append)
    ssc.run()
    assert seen == [[1], [2]]
    ssc = StreamingContext("50ms", until_stopped=True)
    seen = []
    ssc.queue_stream([[1], [2]]).foreach_batch(seen.append)
    ssc.start()
    wait_for(lambda: len(seen) >= 5, what="empty batches after the queue")
    assert not ssc.await_termination(0.1)  # still running
    ssc.stop()
    assert ssc.await_termination(10)
    assert seen[:2] == [[1], [2]] and all(batch == [] for batch in seen[2:])


def test_get_active_is_the_started_context_until_it_stops():
    ssc = StreamingContext("20ms", until_stopped=True)
    ssc.queue_stream([]).foreach_batch(lambda b: None)
    assert StreamingContext.get_active() is None
    ssc.start()
    assert StreamingContext.get_active() is ssc
    assert StreamingContext.get_active_or_create(lambda: pytest.fail("setup must not be called")) is ssc
    ssc.stop()
    ssc.await_termination(10)
    assert StreamingContext.get_active() is None
    made = StreamingContext(1)
    assert StreamingContext.get_active_or_create(lambda: made) is made


def test_get_or_create_builds_with_setup_and_resumes_the_state_from_the_checkpoint(tmp_path):
    directory = str(tmp_path / "ck")
    seen = []

    def setup(batches):
        def build():
            ssc = StreamingContext(1, checkpoint_interval=1)
            ssc.queue_stream(batches).update_state_by_key(lambda new, old: sum(new) + (old or 0)) \
                .foreach_batch(seen.append)
            return ssc
        return build

    first = StreamingContext.get_or_create(directory, setup([[("a", 1)], [("a", 2)]]))
    assert first.checkpoint_dir == directory
    first.run()
    assert seen[-1] == [("a", 3)]
    seen.clear()
    second = StreamingContext.get_or_create(directory, setup([[("a", 1)], [("a", 2)], [("a", 10)]]))
    second.run()
    assert seen == [[("a", 13)]]  # batches 1 and 2 were done; the third starts from their state
    with pytest.raises(UsageError, match="not a StreamingContext"):
        StreamingContext.get_or_create(directory, lambda: None)


def test_checkpoint_sets_the_directory_before_the_start(tmp_path):
    ssc = StreamingContext(1)
    ssc.checkpoint(str(tmp_path / "ck"))
    ssc.queue_stream([[("a", 1)]]).update_state_by_key(lambda new, old: sum(new)).foreach_batch(lambda b: None)
    ssc.run()
    assert any(name.startswith("checkpoint-") for name in os.listdir(tmp_path / "ck"))
    with pytest.raises(UsageError, match="before the context starts"):
        ssc.checkpoint(str(tmp_path / "other"))


def test_remember_keeps_an_outputs_past_batches():
    def kept_at_the_last_batch(remember):
        ssc = StreamingContext(1)
        if remember:
            ssc.remember(remember)
        stream = ssc.queue_stream([[1], [2], [3], [4], [5]])
        kept = []
        stream.foreach_batch(lambda t, batch: kept.append(sorted(stream.generated)))
        ssc.run()
        return kept[-1]

    assert kept_at_the_last_batch(None) == [4000, 5000]  # what the last batch's run forgets is still there
    assert kept_at_the_last_batch("3s") == [2000, 3000, 4000, 5000]


def test_an_input_read_only_by_stateless_steps_lets_a_batch_go_once_they_have_it():
    """A window over a map keeps the mapped batches, not the input's: the input holds only what its reader has not
    computed yet, as when a window slides by two batches and the map runs for the batch between slides only then."""
    def run(slide, remember=None):
        ssc = StreamingContext(1)
        if remember:
            ssc.remember(remember)
        stream = ssc.queue_stream([[n] for n in range(1, 7)])
        windows, kept = [], []
        stream.map(lambda x: x * 10).window(3, slide).foreach_batch(
            lambda batch: (windows.append(sorted(batch)), kept.append(sorted(stream.generated))))
        ssc.run()
        return windows, kept

    # the queue ends at 6 s; the window's slides that still hold its records run on after it
    assert run(1) == ([[10], [10, 20], [10, 20, 30], [20, 30, 40], [30, 40, 50], [40, 50, 60], [50, 60], [60]],
                      [[1000], [2000], [3000], [4000], [5000], [6000], [7000], [8000]])
    assert run(2) == ([[10, 20], [20, 30, 40], [40, 50, 60], [60]],
                      [[1000, 2000], [3000, 4000], [5000, 6000], [7000, 8000]])
    assert run(1, remember="3s")[1][-3] == [1000, 2000, 3000, 4000, 5000, 6000]  # remember() keeps its history


def test_context_transform_and_union_of_several_streams():
    ssc = StreamingContext(1)
    a, b, c = (ssc.queue_stream([[n], [n * 10]]) for n in (1, 2, 3))
    sizes, timed, union = [], [], []
    ssc.transform([a, b, c], lambda batches: [sum(map(sum, batches))]).foreach_batch(sizes.append)
    ssc.transform([a, b], lambda t, batches: [t, len(batches)]).foreach_batch(timed.append)
    ssc.union(a, b, c).foreach_batch(union.append)
    ssc.run()
    assert sizes == [[6], [60]] and timed == [[1000, 2], [2000, 2]] and union == [[1, 2, 3], [10, 20, 30]]
    with pytest.raises(UsageError):
        ssc.union()


def test_binary_records_stream_cuts_new_files_into_fixed_length_records(tmp_path):
    directory = tmp_path / "in"
    directory.mkdir()
    ssc = StreamingContext("100ms")
    seen = []
    ssc.binary_records_stream(str(directory), 4).foreach_batch(lambda b: seen.extend(b))
    ssc.start()
    time.sleep(0.3)
    (tmp_path / "f").write_bytes(b"abcd1234wxyz")
    os.rename(tmp_path / "f", directory / "f")
    wait_for(lambda: len(seen) >= 3, what="records of the file")
    ssc.stop()
    ssc.await_termination(10)
    assert seen == [b"abcd", b"1234", b"wxyz"]


def test_a_streaming_listener_hears_spark_events_in_order():
    events = []

    class Recorder(StreamingListener):
        def on_streaming_started(self, time_ms):
            events.append(("started", time_ms))

        def on_batch_submitted(self, info):
            events.append(("submitted", info.batch_time, info.records_in))

        def on_batch_started(self, info):
            events.append(("batch started", info.batch_time))

        def on_output_operation_started(self, info):
            events.append(("output started", info.batch_time, info.id))

        def on_output_operation_completed(self, info):
            events.append(("output completed", info.batch_time, info.id, info.failure))

        def on_batch_completed(self, info):
            events.append(("completed", info.batch_time, info.records_in))

    ssc = StreamingContext(1)
    ssc.add_streaming_listener(Recorder())
    ssc.queue_stream([[1, 2], [3]]).count().foreach_batch(lambda b: None)
    ssc.run()
    assert events == [("started", 0)] + [
        event for t, n in ((1000, 2), (2000, 1)) for event in (
            ("submitted", t, n), ("batch started", t), ("output started", t, 0), ("output completed", t, 0, None),
            ("completed", t, n))]


def test_receiver_events_and_a_failing_listener(capsys):
    from dstream_cli import Receiver

    class Once(Receiver):
        finite = True  # its stop() ends the input, and so the run

        def on_start(self):
            threading.Thread(target=lambda: (self.store(["x"]), self.stop()), daemon=True).start()

        def on_stop(self):
            pass

    events = []

    class Recorder(StreamingListener):
        def on_receiver_started(self, info):
            events.append(("started", info.name, info.active))

        def on_receiver_stopped(self, info):
            events.append(("stopped", info.name, info.active))

    class Broken(StreamingListener):
        def on_batch_completed(self, info):
            raise RuntimeError("boom")

    ssc = StreamingContext("50ms")
    ssc.add_streaming_listener(Recorder())
    ssc.add_streaming_listener(Broken())
    ssc.receiver_stream(Once(), name="once").foreach_batch(lambda b: None)
    ssc.run()
    assert events == [("started", "once", True), ("stopped", "once", False)]
    assert capsys.readouterr().err.count("Broken.on_batch_completed raised RuntimeError: boom") == 1
