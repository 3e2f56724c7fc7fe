"""``pyspark.util``: ``InheritableThread`` and ``inheritable_thread_target``. Local properties are the
context's here, seen by every thread, so these are Python's threads and functions as they are."""
from __future__ import annotations

import threading
from typing import Callable

__all__ = ["InheritableThread", "inheritable_thread_target"]


class InheritableThread(threading.Thread):
    def __init__(self, target: Callable, *args, session=None, **kwargs) -> None:
        super().__init__(*args, target=target, **kwargs)


def inheritable_thread_target(f=None):
    return f
