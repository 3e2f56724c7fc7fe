"""ListLike: the base of batches that are not lists (a window's or state's view, a batch of line chunks)."""
from __future__ import annotations

import itertools
from collections.abc import Sequence


class ListLike(Sequence):
    """A batch that yields its records as it is iterated and reads like a list where the operators need it:
    ``len``, ``[:n]`` reading only the records it returns, ``==`` with a list, ``+`` (union) and ``repr``.
    Subclasses give ``__len__`` and ``__iter__``."""

    __slots__ = ()

    def __getitem__(self, index):
        if (isinstance(index, slice) and index.step is None and (index.start or 0) >= 0
                and (index.stop is None or index.stop >= 0)):
            return list(itertools.islice(self, index.start, index.stop))
        return list(self)[index]

    def __eq__(self, other) -> bool:
        return list(self) == (list(other) if isinstance(other, Sequence) and not isinstance(other, str) else other)

    def __add__(self, other) -> list:
        return list(self) + list(other)

    def __radd__(self, other) -> list:
        return list(other) + list(self)

    def __repr__(self) -> str:
        return repr(list(self))
