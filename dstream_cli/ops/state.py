"""StateDStream: Spark's updateStateByKey, with an optional idle timeout per key."""
from __future__ import annotations

from typing import Callable

from ..dstream import DStream
from ..errors import RECORD_ERRORS
from .batch import group_by_key_step, group_pairs, require_pairs


class StateDStream(DStream):
    """Every batch, ``update(values, state)`` for every key with new values or existing state.

    Values are passed in arrival order, ``[]`` for a key with none; returning None removes the
    key. The batch is every ``(key, state)`` after the update. With *timeout_ms*, a key that got
    no values for that long is removed without a call (like mapWithState's timeout).
    """

    def __init__(self, parent: DStream, update: Callable, timeout_ms: int | None = None) -> None:
        super().__init__(parent.context, [parent])
        self.update = update
        self.timeout_ms = timeout_ms
        self.state: dict = {}
        self.last_values_ms: dict = {}
        self.state_time: int | None = None
        self.grouping = group_by_key_step(self.label)  # its slow path names or skips what is not a pair
        self.context.note_state(self)

    def compute(self, t: int) -> list:
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
        new_state: dict = {}
        for key in [*self.state, *(k for k in groups if k not in self.state)]:
            values = groups.get(key, [])
            if values:
                self.last_values_ms[key] = t
            elif self.timeout_ms is not None and t - self.last_values_ms.get(key, t) >= self.timeout_ms:
                self.last_values_ms.pop(key, None)
                continue
            try:
                updated = self.update(values, self.state.get(key))
            except RECORD_ERRORS as exc:  # noqa: BLE001
                reject = reject or self.context.record_errors.rejecter(t, ",".join(self.input_names))
                reject(self.label, (key, values, self.state.get(key)), exc)
                updated = self.state.get(key)
            if updated is None:
                self.last_values_ms.pop(key, None)
            else:
                new_state[key] = updated
        self.state = new_state
        self.state_time = t
        return list(new_state.items())

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
