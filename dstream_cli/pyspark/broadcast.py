"""``pyspark.broadcast``: ``Broadcast``, a value every function of this process can read."""
from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Broadcast"]

T = TypeVar("T")


class Broadcast(Generic[T]):
    """``sc.broadcast(value)``: ``value`` is the object itself (nothing is shipped anywhere)."""

    def __init__(self, sc=None, value: T | None = None, pickle_registry=None, path: str | None = None,
                 sock_file=None) -> None:
        self._value = value

    @property
    def value(self) -> T:
        return self._value

    def dump(self, value: T, f) -> None:
        import pickle

        pickle.dump(value, f, pickle.HIGHEST_PROTOCOL)

    def load(self, file) -> T:
        import pickle

        return pickle.load(file)

    def load_from_path(self, path: str) -> T:
        with open(path, "rb") as handle:
            return self.load(handle)

    def unpersist(self, blocking: bool = False) -> None:
        pass

    def destroy(self, blocking: bool = False) -> None:
        pass
