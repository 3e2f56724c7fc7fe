"""The scheduler: clocks, the batch loop with its lifecycle, and receiving-rate control."""


def collect_garbage_rarely() -> None:
    """For the dstream process and its workers, not the library (whose process is its user's).

    A batch is millions of short-lived lists and tuples; at CPython's default (a young collection every
    700 allocations, each walking the young objects) the cycle collector took half the time of a simple
    chain. Records hold no reference cycles, so collecting rarely costs no memory."""
    import gc

    gc.set_threshold(100_000, 50, 50)
