"""Window nodes: the plain window (union of the batches in it), Spark's incremental ReducedWindowedDStream, and
SummedWindowDStream, which keeps a window of integer sums incrementally without an inverse."""
from __future__ import annotations

import itertools
import operator
from typing import Callable

from ..dstream import DStream
from ..errors import RECORD_ERRORS
from .views import PairsView, pair_key, pair_value, retire

#: PySpark reuses the previous window only when the window spans at least this many slides
INCREMENTAL_MIN_SLIDES = 5


class WindowingDStream(DStream):
    """A node whose batch at t is made of its parent's batches in (t - window, t]."""

    def __init__(self, parent: DStream, window_ms: int, slide_ms: int) -> None:
        super().__init__(parent.context, [parent], slide_ms)
        self.window_ms = window_ms
        self.parent_remember_extra_ms = window_ms

    def last_time_reached(self, t: int) -> int:
        return self.last_valid_before(super().last_time_reached(t) + self.window_ms)


class WindowedDStream(WindowingDStream):
    """At time t, every batch of the parent in (t - window, t], oldest first."""

    def compute(self, t: int) -> list:
        parent = self.dependencies[0]
        batches = parent.slice(t - self.window_ms + parent.slide_ms, t)
        return [record for batch in batches for record in batch]


class ReducedWindowedDStream(WindowingDStream):
    """reduceByKeyAndWindow with an inverse function, as Spark's ``PythonReducedWindowedDStream``.

    The parent is the per-batch ``reduce_by_key``. With a window of at least five slides and a
    previous window at hand, the new window is the previous one, minus (``inv_func``) the batches
    that left, plus (``func``) the batches that entered, updated in place: the cost follows the keys
    in the batches that move, not the window length nor the keys the window holds. Keys whose value
    was inverted down stay, as in Spark, unless ``filter_func`` drops them.
    """

    def __init__(self, parent: DStream, func: Callable, inv_func: Callable, window_ms: int, slide_ms: int,
                 filter_func: Callable | None = None) -> None:
        super().__init__(parent, window_ms, slide_ms)
        self.func = func
        self.inv_func = inv_func
        self.filter_func = filter_func
        self.remember_ms = 2 * slide_ms  # the previous window must outlive one slide, checkpoints included
        self.latest: dict | None = None  # the newest window, which the next slide updates in place
        self.latest_time: int | None = None

    @property
    def incremental(self) -> bool:
        return self.window_ms >= INCREMENTAL_MIN_SLIDES * self.slide_ms

    def compute(self, t: int) -> PairsView:
        parent = self.dependencies[0]
        step = parent.slide_ms
        current_begin, previous_end = t - self.window_ms, t - self.slide_ms
        reject = self.context.record_errors.rejecter(t, ",".join(self.input_names))
        if self.incremental and self.latest_time != previous_end:
            self.get_or_compute(previous_end)  # the previous window first (Spark recurses the same way)
        if not (self.incremental and self.latest is not None and self.latest_time == previous_end):
            window = self._merge({}, parent.slice(current_begin + step, t), self.func, reject)
            if self.filter_func is not None:
                window = {k: v for k, v in window.items() if self._keep((k, v), reject)}
            if self.latest_time is None or t > self.latest_time:
                self.latest, self.latest_time = window, t
            return PairsView(window)
        window = self.latest
        retire(self.generated, previous_end, history_asked=self.remember_ms > 2 * self.slide_ms)
        leaving = parent.slice(previous_end - self.window_ms + step, current_begin)
        entering = parent.slice(previous_end + step, t)
        moved: set = set()
        if leaving:
            gone = self._merge({}, leaving, self.func, reject)
            moved.update(gone)
            failed = self._subtract(window, gone)
        else:
            failed = set()
        for batch in entering:
            moved.update(key for key, _ in batch)
        self._merge(window, entering, self.func, reject)
        if failed:
            self._recompute(window, failed, parent.slice(current_begin + step, t), reject)
        if self.filter_func is not None:  # the keys that did not move were kept last time, and are still
            for key in moved:
                if key in window and not self._keep((key, window[key]), reject):
                    del window[key]
        self.latest_time = t
        return PairsView(window)

    def holds_data(self, t: int) -> bool:
        """Nothing of its own: what can still change the window is its parent's batches of the last window length,
        which the parent holds. What ``latest`` keeps once the data has slid out (keys whose value an inverse took
        to its zero) changes no more, so a quiet gap may be crossed, and the crossing drops them."""
        return False  # the window's parent is asked for itself, as every node an output reaches is

    def fast_forward(self, t: int) -> None:
        super().fast_forward(t)
        self.latest, self.latest_time = {}, self.last_valid_before(t)  # an empty window, as incremental as before

    def restore(self, data: dict) -> None:
        super().restore(data)
        self.latest = self.latest_time = None
        if self.generated:
            self.latest_time = max(self.generated)
            self.latest = dict(self.generated[self.latest_time])
            self.generated[self.latest_time] = PairsView(self.latest)

    def _merge(self, into: dict, batches: list[list], func: Callable, reject) -> dict:
        for batch in batches:
            for key, value in batch:
                if key in into:
                    try:
                        into[key] = func(into[key], value)
                    except RECORD_ERRORS as exc:  # noqa: BLE001
                        reject(self.label, (key, into.pop(key), value), exc)
                else:
                    into[key] = value
        return into

    def _subtract(self, window: dict, gone: dict) -> set:
        """Take what left the window out of it; return the keys whose inverse raised, which are left out.

        The inverse is only a shortcut for reducing the window again, so its failure is no record error:
        those keys are recomputed from the window's batches instead (``_recompute``)."""
        failed = set()
        for key, value in gone.items():
            if key in window:  # keys not in the previous window are ignored (Spark's leftOuterJoin)
                try:
                    window[key] = self.inv_func(window[key], value)
                except RECORD_ERRORS:  # noqa: BLE001
                    del window[key]
                    failed.add(key)
        return failed

    def _recompute(self, window: dict, keys: set, batches: list[list], reject) -> None:
        for key in keys:
            window.pop(key, None)
        only_those = [[(k, v) for k, v in batch if k in keys] for batch in batches]
        self._merge(window, only_those, self.func, reject)

    def _keep(self, pair, reject) -> bool:
        try:
            return bool(self.filter_func(pair))
        except RECORD_ERRORS as exc:  # noqa: BLE001
            reject(self.label, pair, exc)
            return False


class SummedWindowDStream(ReducedWindowedDStream):
    """reduceByKeyAndWindow(add) with no inverse, kept incrementally while the values are whole numbers.

    Without an inverse Spark sums every window afresh. For integers, subtracting undoes adding exactly, so the
    window can be the previous one minus the batches that left, plus those that entered, as with an inverse;
    a count per key of the window's batches that hold it removes a key with its last batch, as summing afresh
    would (whatever its sum, zero included). A value of another type (a float, whose sum depends on its order;
    text) makes that slide sum the window afresh, as do a restart and a window too short to gain.
    """

    def __init__(self, parent: DStream, window_ms: int, slide_ms: int) -> None:
        super().__init__(parent, operator.add, operator.sub, window_ms, slide_ms)
        self.present: dict | None = None  # key -> batches of ``latest`` holding it; None: not known
        self.text_keys = False  # every key of ``latest`` is a str (known while ``present`` is)

    def compute(self, t: int) -> PairsView:
        parent = self.dependencies[0]
        step = parent.slide_ms
        current_begin, previous_end = t - self.window_ms, t - self.slide_ms
        if self.incremental and self.latest_time != previous_end:
            self.get_or_compute(previous_end)  # the previous window first
        if self.incremental and self.present is not None and self.latest_time == previous_end:
            entering = parent.slice(previous_end + step, t)
            if _whole_numbers(entering):  # those leaving were checked as they entered
                leaving = parent.slice(previous_end - self.window_ms + step, current_begin)
                retire(self.generated, previous_end, history_asked=self.remember_ms > 2 * self.slide_ms)
                _slide(self.latest, self.present, leaving, entering)
                self.latest_time = t
                self.text_keys = self.text_keys and _text_keys(entering)
                return self._latest_view()
        batches = parent.slice(current_begin + step, t)
        window = self._merge({}, batches, self.func, self.context.record_errors.rejecter(t, ",".join(self.input_names)))
        if self.latest_time is not None and t <= self.latest_time:
            return PairsView(window)  # an earlier window again: ``latest`` stays
        self.latest, self.latest_time = window, t
        self.present = _presence(batches) if _whole_numbers(batches) else None
        self.text_keys = self.present is not None and _text_keys(batches)
        return self._latest_view()

    def _latest_view(self) -> PairsView:
        """``latest`` as a batch, with the types it is known to hold: int values while kept incrementally."""
        if self.present is None:
            return PairsView(self.latest)
        return PairsView(self.latest, str if self.text_keys else None, int)

    def fast_forward(self, t: int) -> None:
        super().fast_forward(t)
        self.present, self.text_keys = {}, True  # an empty window

    def restore(self, data: dict) -> None:
        super().restore(data)
        self.present = None  # not in the checkpoint: the first window after a restart is summed afresh


def _whole_numbers(batches: list) -> bool:
    return set(map(type, map(pair_value, itertools.chain.from_iterable(batches)))) <= {int}


def _text_keys(batches: list) -> bool:
    return set(map(type, map(pair_key, itertools.chain.from_iterable(batches)))) <= {str}


def _presence(batches: list) -> dict:
    present: dict = {}
    for batch in batches:
        for key, _ in batch:
            present[key] = present.get(key, 0) + 1
    return present


def _slide(window: dict, present: dict, leaving: list, entering: list) -> None:
    for batch in leaving:
        for key, value in batch:
            held = present[key] - 1
            if held:
                present[key] = held
                window[key] -= value
            else:
                del present[key], window[key]
    for batch in entering:
        for key, value in batch:
            if key in present:
                present[key] += 1
                window[key] += value
            else:
                present[key] = 1
                window[key] = value
