"""StateDStream: Spark's updateStateByKey, with an optional idle timeout per key."""
from __future__ import annotations

import copy
from typing import Callable

from ..dstream import DStream
from ..errors import RECORD_ERRORS
from .batch import group_by_key_step, group_pairs, require_pairs
from .views import PairsView, retire

#: state values an update cannot change in place: one returned as it was is unchanged
_IMMUTABLE = frozenset({int, float, str, bool, bytes, tuple, frozenset, type(None)})


class StateDStream(DStream):
    """Every batch, ``update(values, state)`` for every key with new values or existing state.

    Values are passed in arrival order, ``[]`` for a key with none; returning None removes the
    key. The batch is every ``(key, state)`` after the update. With *timeout_ms*, a key that got
    no values for that long is removed without a call (like mapWithState's timeout). An update
    marked ``unchanged_without_values`` (the named ones) promises that ``update([], s)`` is ``s``:
    without a timeout, only the keys with values are visited and the state is updated in place.
    """

    def __init__(self, parent: DStream, update: Callable, timeout_ms: int | None = None, initial=()) -> None:
        super().__init__(parent.context, [parent])
        self.update = update
        self.timeout_ms = timeout_ms
        self.state: dict = dict(initial)  # Spark's initialRDD: (key, state) pairs the first batch starts from
        self.last_values_ms: dict = {}  # with a timeout: when each key last had values
        self.state_time: int | None = None
        self.steady = False  # the last batch brought no values and left the state as it was: so would the next
        # Keys set (in the order a restore must append new ones) and removed since the last checkpoint,
        # so that a checkpoint writes what changed rather than the whole state.
        self.tracking = self.context.checkpoints is not None
        self.changed: dict = {}
        self.removed: set = set()
        self.grouping = group_by_key_step(self.label)  # its slow path names or skips what is not a pair
        self.context.note_state(self)

    def holds_data(self, t: int) -> bool:
        """A state that an empty batch leaves as it is holds nothing that changes: a quiet gap of the input may
        be crossed at once (its batches' outputs would all be this same state; a --timeout is applied at the
        first batch after the gap)."""
        return (bool(self.state) and not self.steady) or super().holds_data(t)

    def fast_forward(self, t: int) -> None:
        super().fast_forward(t)
        self.state_time = self.last_valid_before(t)

    def compute(self, t: int) -> PairsView:
        # Spark's StateDStream asks for the previous state first; doing it as a loop never recurses.
        start = self.context.zero_ms if self.state_time is None else self.state_time
        for earlier in range(start + self.slide_ms, t, self.slide_ms):
            self._advance(earlier)
        return self._advance(t)

    def _advance(self, t: int) -> list:
        batch = self.dependencies[0].get_or_compute(t) or []
        reject = None
        try:
            groups = group_pairs(require_pairs(batch))
        except RECORD_ERRORS:  # noqa: BLE001 - again record by record, to name or skip what is not a pair
            reject = self.context.record_errors.rejecter(t, ",".join(self.input_names))
            groups = dict(self.grouping.slow(batch, t, reject))
        if self.timeout_ms is None and getattr(self.update, "unchanged_without_values", False):
            self._update_keys_with_values(groups, t, reject)
            self.steady = not groups
        else:
            before = self.state
            self._update_every_key(groups, t, reject)
            self.steady = not groups and self.state == before
        self.state_time = t
        return PairsView(self.state)

    def _update_every_key(self, groups: dict, t: int, reject) -> None:
        new_state: dict = {}
        tracking, changed, timed = self.tracking, self.changed, self.timeout_ms is not None
        for key in [*self.state, *(k for k in groups if k not in self.state)]:
            values = groups.get(key, [])
            old = self.state.get(key)
            if values:
                if timed:
                    self.last_values_ms[key] = t
            elif timed and t - self.last_values_ms.get(key, t) >= self.timeout_ms:
                self.last_values_ms.pop(key, None)
                if tracking:
                    self._removed(key)
                continue
            updated, reject = self._call_update(key, values, old, t, reject)
            if updated is None:
                self.last_values_ms.pop(key, None)
                if tracking:
                    self._removed(key)
            else:
                new_state[key] = updated
                if tracking and (values or updated is not old or type(updated) not in _IMMUTABLE):
                    changed[key] = None
        self.state = new_state
        if tracking and 2 * (len(changed) + len(self.removed)) > len(new_state):
            self._stop_tracking()

    def _update_keys_with_values(self, groups: dict, t: int, reject) -> None:
        """The same for an update that leaves a state without new values as it is (``sum``, ``count``,
        ``last``): only the keys with values are visited, so a batch costs what it brings, not the state's size."""
        if self.state_time is not None:
            retire(self.generated, self.state_time, history_asked=self.remember_ms > self.slide_ms)
        state = self.state  # updated in place
        removed = []
        for key, values in groups.items():
            old = state.get(key)
            updated, reject = self._call_update(key, values, old, t, reject)
            if updated is None:
                state.pop(key, None)
                removed.append(key)
            else:
                state[key] = updated
        if self.tracking and 2 * (len(self.changed) + len(groups)) > len(state):
            self._stop_tracking()
        if self.tracking:
            self.changed.update(dict.fromkeys(groups))  # in one C call: keys new to it are appended in order
            for key in removed:
                self._removed(key)

    def _call_update(self, key, values: list, old, t: int, reject):
        """``update(values, old)``, and the rejecter of batch *t*; a key whose update raised keeps its state."""
        try:
            # the batches already handed out keep the state they had: a state the update changes in place is
            # given to it as a copy (in Spark, each batch's state is its own, read back from the cache)
            return self.update(values, old if type(old) in _IMMUTABLE else copy.deepcopy(old)), reject
        except RECORD_ERRORS as exc:  # noqa: BLE001
            reject = reject or self.context.record_errors.rejecter(t, ",".join(self.input_names))
            reject(self.label, (key, values, old), exc)
            return old, reject

    def _stop_tracking(self) -> None:
        """Most of the state changed: the next checkpoint saves it whole, so stop noting what changed."""
        self.tracking = False
        self.changed, self.removed = {}, set()

    def _removed(self, key) -> None:
        # out of `changed`, so that a key set again is appended at the end, where the live state has it
        self.changed.pop(key, None)
        self.removed.add(key)

    def snapshot(self, t: int) -> dict:
        # Columns rather than pairs: a column of strings or numbers goes to the encoder as it is.
        data = super().snapshot(t)
        data.update(state_keys=list(self.state), state_values=list(self.state.values()), time=self.state_time,
                    last_values_keys=list(self.last_values_ms), last_values=list(self.last_values_ms.values()))
        return data

    def restore(self, data: dict) -> None:
        super().restore(data)
        if "state_keys" in data:
            self.state = dict(zip(data["state_keys"], data["state_values"], strict=True))
            self.last_values_ms = dict(zip(data["last_values_keys"], data["last_values"], strict=True))
        else:  # written by earlier versions: lists of pairs
            self.state = dict(data["state"])
            self.last_values_ms = dict(data["last_values"])
        self.state_time = data["time"]

    def changes(self, t: int) -> dict | None:
        if not self.tracking:
            return None  # most of it changed: whole is as small, and quicker to restore
        data = DStream.snapshot(self, t)
        keys = list(self.changed)
        last = [None] * len(keys) if self.timeout_ms is None else [self.last_values_ms.get(k) for k in keys]
        data.update(time=self.state_time, removed=list(self.removed), changed_keys=keys,
                    changed_values=list(map(self.state.__getitem__, keys)), changed_last=last)
        return data

    def restore_changes(self, data: dict) -> None:
        """Apply what ``changes`` saved to the state restored so far: removals first, then the keys set, in
        order, so keys new since the previous checkpoint come last as they did."""
        DStream.restore(self, data)
        state, last = self.state, self.last_values_ms
        for key in data["removed"]:
            state.pop(key, None)
            last.pop(key, None)
        for key, value, ms in zip(data["changed_keys"], data["changed_values"], data["changed_last"], strict=True):
            state[key] = value
            if ms is None:
                last.pop(key, None)
            else:
                last[key] = ms
        self.state_time = data["time"]

    def checkpoint_saved(self) -> None:
        self.tracking = self.context.checkpoints is not None
        self.changed, self.removed = {}, set()
