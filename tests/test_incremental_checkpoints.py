"""--checkpoint-interval and incremental state: checkpoints every interval, each writing what changed."""
import os

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import StallThenKill, files_in, installed_dstream, invoke, queue_text
from dstream_cli import RunOptions, StreamingContext
from dstream_cli.context import default_checkpoint_interval
from dstream_cli.expr import state_updater


def names(directory) -> list[str]:
    return sorted((p.name for p in directory.glob("checkpoint-*.json")), key=lambda n: int(n[11:-5]))


def test_the_default_interval_is_the_batch_rounded_up_to_at_least_ten_seconds():
    assert [default_checkpoint_interval(ms) for ms in (100, 1000, 3000, 10_000, 15_000)] == [
        10_000, 10_000, 12_000, 10_000, 15_000]


def test_checkpoints_are_written_every_interval_and_after_the_last_batch(tmp_path):
    ck = tmp_path / "ck"
    result = invoke(["--queue", "-", "--checkpoint", ck, "map", "(x, 1)", "update-state", "sum", "count", "emit"],
                    input=queue_text([["a"]] * 25))
    assert result.exit_code == 0, result.stderr
    assert names(ck) == ["checkpoint-20000.json", "checkpoint-25000.json"]  # 10 s, 20 s, and the end
    result = invoke(["--queue", "-", "--checkpoint", tmp_path / "ck3", "--checkpoint-interval", "3s", "--batches", "7",
                     "map", "(x, 1)", "update-state", "sum", "count", "emit"], input=queue_text([["a"]] * 25))
    assert result.exit_code == 0, result.stderr
    assert names(tmp_path / "ck3") == ["checkpoint-6000.json", "checkpoint-7000.json"]


def test_an_interval_that_is_not_a_multiple_of_the_batch_is_refused(tmp_path):
    result = invoke(["--queue", "-", "--batch", "2s", "--checkpoint", tmp_path / "ck", "--checkpoint-interval", "3s",
                     "count", "emit"], input="a\n")
    assert result.exit_code == 2
    assert "--checkpoint-interval 3s is not a multiple of --batch 2s (try 2s or 4s)" in result.stderr


def test_sigkill_between_checkpoints_recomputes_the_batches_since_the_last_one(tmp_path):
    """Killed in batch 8 with checkpoints every 3 s: batches 7 and 8 are recomputed from the checkpoint of
    batch 6, and every file, state included, equals an uninterrupted run's."""
    batches = [[f"w{(i * j) % 7}" for j in range(i + 3)] for i in range(12)]
    queue = tmp_path / "queue"
    queue.write_text(queue_text(batches))
    stall = StallThenKill(8000, tmp_path / "stalled")

    def command(out: str) -> list[str]:
        return [*installed_dstream(), *stall.imports, "--queue", str(queue),
                "--checkpoint", str(tmp_path / f"ck-{out}"),
                "--checkpoint-interval", "3s", "map", "(x, 1)", "update-state", "sum", *stall.stage,
                "save-as-text-files", str(tmp_path / out / "s")]

    stall.run(command)
    assert names(tmp_path / "ck-killed")[-1] == "checkpoint-6000.json"
    assert len(list((tmp_path / "killed").iterdir())) == 7
    stall.resume(command)
    straight = files_in(tmp_path / "straight")
    assert len(straight) == 12 and files_in(tmp_path / "killed") == straight


def test_a_checkpoint_writes_the_keys_that_changed_not_the_whole_state(tmp_path):
    """10,000 keys in the first batch, then 5 keys a batch: later checkpoints hold those 5, until every
    FULL_EVERY-th, which is whole again."""
    ck = tmp_path / "ck"
    batches = [[f"k{i}" for i in range(10_000)]] + [[f"k{i}" for i in range(b, b + 5)] for b in range(25)]
    result = invoke(["--queue", "-", "--checkpoint", ck, "--checkpoint-interval", "1s", "map", "(x, 1)",
                     "update-state", "sum", "count", "emit"], input=queue_text(batches))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["10000"] * 26
    # every checkpoint of the run is kept that the newest two still build on
    documents = {name: orjson.loads((ck / name).read_bytes()) for name in names(ck)}
    sizes = {name: os.path.getsize(ck / name) for name in documents}
    whole = [name for name, document in documents.items() if "changes_since" not in document]
    assert whole == ["checkpoint-21000.json"]  # 1 s whole, 2-10 s changes, 11 s whole, ... 21 s whole
    assert len(documents) == 6  # 21 s whole and the 5 changes since, each on the one before
    for name, document in documents.items():
        if name not in whole:
            state = document["nodes"][document["changed_nodes"][0]]
            keys = dict(state["d"])["changed_keys"]
            assert len(keys) == 5 and sizes[name] * 100 < sizes["checkpoint-21000.json"]
    again = invoke(["--queue", "-", "--checkpoint", ck, "--checkpoint-interval", "1s", "--batches", "27", "map",
                    "(x, 1)", "update-state", "sum", "count", "emit"], input=queue_text(batches + [["new"]]))
    assert again.exit_code == 0, again.stderr
    assert again.stdout == "10001\n"


def test_a_missing_link_makes_the_checkpoints_on_it_unusable_and_an_earlier_one_is_used(tmp_path):
    ck = tmp_path / "ck"
    args = ["--queue", "-", "--checkpoint", ck, "--checkpoint-interval", "1s", "map", "(x, 1)", "update-state",
            "sum", "count", "emit"]
    batches = [[f"k{i}" for i in range(100)]] + [["k1"]] * 12
    assert invoke(["--batches", "6", *args], input=queue_text(batches)).exit_code == 0
    assert names(ck) == [f"checkpoint-{s}000.json" for s in range(1, 7)]  # 1 s whole, then changes on it
    (ck / "checkpoint-4000.json").unlink()
    result = invoke(["--batches", "7", *args], input=queue_text(batches))
    assert "checkpoint-6000.json builds on checkpoint-5000.json" not in result.stderr
    assert "checkpoint-5000.json builds on checkpoint-4000.json, which is missing" in result.stderr
    assert result.exit_code == 0 and result.stdout == "100\n" * 4  # 4 to 7 s, redone from 3 s


updates = st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=6), max_size=16)
FIRST = [f"k{i}" for i in range(40)]  # a state big enough for changes to be saved as changes


@settings(max_examples=60, deadline=None)
@given(updates, st.sampled_from([None, "3s"]), st.sampled_from(["custom", "sum"]))
def test_incremental_checkpoints_restore_exactly_what_a_whole_one_would(tmp_path_factory, batches, timeout, updater):
    """Keys come, go (an update returns None at multiples of 5) and time out. After each batch of an
    uninterrupted run, checkpointed every 2 s and at its end, the state restored from its checkpoint files
    (one whole, then changes, some covering two batches) equals the
    live state: its keys in the same order, its values and the times of their last values; and so does
    a restore from one whole snapshot. The named ``sum`` without a timeout takes the path that visits only the
    keys with values."""
    batches = [FIRST, *batches]
    directory = tmp_path_factory.mktemp("ck")

    def build(context):
        def update(values, state):  # an even state with no new values changes too
            total = (state or 0) + (3 * len(values) if values else state % 2 == 0)
            return None if total % 5 == 0 else total

        if updater == "sum":
            update = state_updater("sum", "update-state")
        stream = context.queue_stream(batches).map(lambda x: (x, 1)).update_state_by_key(update, timeout=timeout)
        stream.foreach_batch(lambda batch: None)
        return stream

    for done in range(1, len(batches) + 1):
        where = str(directory / f"run-{done}")
        live_context = StreamingContext(1, checkpoint=where, checkpoint_interval=2)
        live = build(live_context)
        live_context.run(RunOptions(batches=done))
        restored_context = StreamingContext(1, checkpoint=where, checkpoint_interval=2)
        restored = build(restored_context)
        document = restored_context.checkpoints.load_into(restored_context.graph, 1000)
        restored_context.close()
        assert document["time"] == done * 1000
        if done <= 3:  # whole for the first forty keys; then a few of them changed (later, time-outs may change most)
            assert (done == 3) == ("changes_since" in document)
        assert list(restored.state.items()) == list(live.state.items())
        assert list(restored.last_values_ms.items()) == list(live.last_values_ms.items())
        whole = build(StreamingContext(1))
        whole.restore(live.snapshot(done * 1000))
        assert list(whole.state.items()) == list(live.state.items())


def test_a_checkpoint_written_while_batches_are_redone_keeps_the_allocations_after_it(tmp_path):
    """Recovery redoes logged batches 1-5 s and writes the checkpoint of 2 s on the way: the log must still hold
    3-5 s, or a second crash would let the new run read their records again under new times."""
    from dstream_cli.checkpoint import CheckpointStore

    store = CheckpointStore(str(tmp_path / "ck"))
    for t in range(1000, 6000, 1000):
        store.log_allocation(t, 0, [t // 10])
    store.close()
    store = CheckpointStore(str(tmp_path / "ck"))
    assert [a.time for a in store.pending_allocations()] == [1000, 2000, 3000, 4000, 5000]
    graph = StreamingContext(1).graph
    store.write(graph, 2000, 1000, 0)
    store.log_allocation(6000, 0, [600])
    store.close()
    store = CheckpointStore(str(tmp_path / "ck"))
    assert [(a.time, a.positions) for a in store.pending_allocations()] == [
        (3000, [300]), (4000, [400]), (5000, [500]), (6000, [600])]
    store.write(graph, 6000, 1000, 0)
    store.close()
    assert (tmp_path / "ck" / "allocations.jsonl").read_bytes() == b""
