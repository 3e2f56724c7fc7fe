"""PairsView: a batch that is a view of a node's dict of (key, value) pairs, so that a batch of a big window or
state costs what changed in it rather than a copy of every pair."""
from __future__ import annotations

import itertools
from collections.abc import Sequence


class PairsView(Sequence):
    """The (key, value) pairs of a dict a node keeps up to date (a window, a state) as one batch, without
    copying them: valid until the node updates the dict for its next batch, when the node drops the view
    from its memo or, if a later node may still ask for that time, ``freeze``s it. Iterating, ``len`` and
    ``[:n]`` cost what they read, not the dict's size."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: dict) -> None:
        self._pairs = pairs

    def freeze(self) -> None:
        if isinstance(self._pairs, dict):
            self._pairs = list(self._pairs.items())

    def __len__(self) -> int:
        return len(self._pairs)

    def __iter__(self):
        return iter(self._pairs.items() if isinstance(self._pairs, dict) else self._pairs)

    def __getitem__(self, index):
        if (isinstance(index, slice) and index.step is None and (index.start or 0) >= 0
                and (index.stop is None or index.stop >= 0)):
            return list(itertools.islice(self, index.start, index.stop))
        return list(self)[index]

    def __eq__(self, other) -> bool:
        return list(self) == (list(other) if isinstance(other, (list, PairsView)) else other)

    def __add__(self, other) -> list:
        return list(self) + list(other)

    def __radd__(self, other) -> list:
        return list(other) + list(self)

    def __repr__(self) -> str:
        return repr(list(self))


def retire(generated: dict, t: int, history_asked: bool) -> None:
    """The dict the batch of time *t* views is about to be updated in place: freeze that batch if a later
    node may still ask for it (*history_asked*), else drop it from the memo *generated*."""
    view = generated.pop(t, None)
    if view is not None and history_asked:
        view.freeze()
        generated[t] = view
