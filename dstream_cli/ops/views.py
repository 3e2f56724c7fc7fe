"""PairsView: a batch that is a view of a node's dict of (key, value) pairs, so that a batch of a big window or
state costs what changed in it rather than a copy of every pair."""
from __future__ import annotations

import operator

from ..sequences import ListLike

#: a (key, value) pair's key and value, in C
pair_key, pair_value = operator.itemgetter(0), operator.itemgetter(1)


class PairsView(ListLike):
    """The (key, value) pairs of a dict a node keeps up to date (a window, a state) as one batch, without
    copying them: valid until the node updates the dict for its next batch, when the node drops the view
    from its memo or, if a later node may still ask for that time, ``freeze``s it. Iterating, ``len`` and
    ``[:n]`` cost what they read, not the dict's size. *key_type* and *value_type* are the exact type of
    every key and of every value where the node knows it (a sum of whole numbers by text keys), so that
    writing the pairs need not read each one's type."""

    __slots__ = ("_pairs", "key_type", "value_type")

    def __init__(self, pairs: dict, key_type: type | None = None, value_type: type | None = None) -> None:
        self._pairs = pairs
        self.key_type, self.value_type = key_type, value_type

    def freeze(self) -> None:
        if isinstance(self._pairs, dict):
            self._pairs = list(self._pairs.items())

    def __len__(self) -> int:
        return len(self._pairs)

    def __iter__(self):
        return iter(self._pairs.items() if isinstance(self._pairs, dict) else self._pairs)

    def columns(self) -> tuple:
        """The keys and the values, as two iterables in the pairs' order: a dict's own views while it is one."""
        pairs = self._pairs
        if isinstance(pairs, dict):
            return pairs.keys(), pairs.values()
        return map(pair_key, pairs), map(pair_value, pairs)


def retire(generated: dict, t: int, history_asked: bool) -> None:
    """The dict the batch of time *t* views is about to be updated in place: freeze that batch if a later
    node may still ask for it (*history_asked*), else drop it from the memo *generated*."""
    view = generated.pop(t, None)
    if view is not None and history_asked:
        view.freeze()
        generated[t] = view
