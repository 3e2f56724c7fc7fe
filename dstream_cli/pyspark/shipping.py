"""What Spark ships to its executors must pickle: the functions of the RDD operations and of the DStream
operators. Here nothing is shipped, so a program holding a driver's connection in such a function would run here
and fail on Spark (the programming guide's own warning). Each distinct function is pickled once, as Spark would
(cloudpickle), and one that cannot be is said once; ``spark.dstream.closureCheck`` set to ``error`` fails the
job as Spark does, ``off`` does not check."""
from __future__ import annotations

import pickle
import sys
from typing import Callable

CHECK_SETTING = "spark.dstream.closureCheck"
_checked: dict = {}  # a function's code (or the callable itself): what pickling it said, None if it pickled


def check_shippable(function: Callable, context, where: str) -> None:
    """Pickle *function*, given to *where* (``RDD.foreach``), once; warn, fail or let it be, as the setting says."""
    mode = context.getConf().get(CHECK_SETTING, "warn") if context is not None else "warn"
    if mode == "off":
        return
    key = getattr(function, "__code__", None) or id(function)
    if key not in _checked:
        import cloudpickle

        try:
            cloudpickle.dumps(function)
            _checked[key] = None
        except Exception as exc:  # noqa: BLE001 - whatever a function holds that cannot be pickled
            _checked[key] = f"{type(exc).__name__}: {exc}"
            if mode != "error":
                print(f"dstream: the function given to {where} cannot be pickled, so Spark could not ship it to its "
                      f"executors: {_checked[key]} (set {CHECK_SETTING}=error to fail as Spark does, off not to "
                      "check)", file=sys.stderr, flush=True)
    if _checked[key] is not None and mode == "error":
        raise pickle.PicklingError(f"Could not serialize object: {_checked[key]}")
