"""``getOrCreate``'s other half: the graph a program built, kept beside its checkpoint as the calls that built it,
and built again from them, so that a restart does not call the program's setup function (Spark's way).

The calls' functions are pickled by value with cloudpickle, as Spark pickles them into its checkpoints: the file
is code, and a drop-in checkpoint directory must be trusted as code. The command line's checkpoints hold data
only (they rebuild the chain from its stage text)."""
from __future__ import annotations

import dataclasses
import functools
import os
import pickle

from ...errors import UsageError
from ...fsio import write_atomically
from ..rdd import RDD

GRAPH_FILE = "pyspark-graph.pickle"


@dataclasses.dataclass(frozen=True)
class Made:
    """The object the *index*-th call made (0: the StreamingContext itself)."""

    index: int


@dataclasses.dataclass(frozen=True)
class Records:
    """An RDD given to a call (an initial state, a queue's batches): its data, as Spark checkpoints it."""

    records: list
    partitions: int


class Recipe:
    """The calls that built a StreamingContext's graph, in order, with what each made."""

    def __init__(self, ssc) -> None:
        self.steps: list[tuple[int, str, tuple, dict]] = []
        self.made: list = [ssc]
        self.depth = 0  # a recorded method calling another: only the program's own call is a step

    def add(self, owner, name: str, args: tuple, kwargs: dict, result) -> None:
        self.steps.append((self._index(owner), name, self._refer(args), self._refer(kwargs)))
        self.made.append(result)

    def _index(self, thing) -> int:
        return next(i for i, made in enumerate(self.made) if made is thing)

    def _refer(self, value):
        if isinstance(value, tuple):
            return tuple(self._refer(v) for v in value)
        if isinstance(value, list):
            return [self._refer(v) for v in value]
        if isinstance(value, dict):
            return {k: self._refer(v) for k, v in value.items()}
        if isinstance(value, RDD):
            return Records(value.collect(), value.getNumPartitions())
        if any(value is made for made in self.made[1:]):
            return Made(self._index(value))
        return value


def recorded(method):
    """A method whose call is a step of the graph's recipe (a DStream's or the StreamingContext's)."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        recipe = getattr(self, "_ssc", self)._recipe
        if recipe.depth:
            return method(self, *args, **kwargs)
        recipe.depth += 1
        try:
            result = method(self, *args, **kwargs)
        finally:
            recipe.depth -= 1
        recipe.add(self, method.__name__, args, kwargs, result)
        return result

    return call


def save_graph(ssc, directory: str) -> None:
    """The graph's recipe into *directory*, before the first batch (the graph does not change after start)."""
    import cloudpickle

    sc = ssc.sparkContext
    document = {"batch_s": ssc._batch_s, "master": sc.master, "app_name": sc.appName,
                "conf": sc.getConf().getAll(), "steps": ssc._recipe.steps}
    try:
        data = cloudpickle.dumps(document)
    except Exception as exc:  # noqa: BLE001 - whatever a function holds that cannot be pickled
        raise UsageError(f"checkpoint {directory}: the DStream graph cannot be saved for getOrCreate: "
                         f"{type(exc).__name__}: {exc} (Spark pickles the same functions)") from None
    write_atomically(os.path.join(directory, GRAPH_FILE), data, 0o600)


def saved_graph(directory: str) -> dict | None:
    """The recipe saved in *directory* with a checkpoint to resume from, or None."""
    path = os.path.join(directory, GRAPH_FILE)
    if not os.path.isfile(path) or not any(name.startswith("checkpoint-") for name in os.listdir(directory)):
        return None
    with open(path, "rb") as handle:
        return pickle.load(handle)  # noqa: S301 - the checkpoint directory is trusted as code, as Spark's is


def rebuild(ssc, steps: list) -> None:
    """Make the same calls on *ssc*, which records them again."""
    made: list = [ssc]

    def resolve(value):
        if isinstance(value, Made):
            return made[value.index]
        if isinstance(value, Records):
            return RDD(value.records, value.partitions, ssc.sparkContext)
        if isinstance(value, tuple):
            return tuple(resolve(v) for v in value)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    for owner, name, args, kwargs in steps:
        made.append(getattr(made[owner], name)(*resolve(args), **resolve(kwargs)))
