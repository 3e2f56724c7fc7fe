"""How a run is stopped from outside: SIGTERM, SIGHUP and the first SIGINT ask for a graceful stop; a second
SIGINT exits 130 at once. SIGHUP is a graceful stop too: a closed terminal or a service manager's reload must
not drop what was received (its default action would end the process at once)."""
from __future__ import annotations

import os
import signal
import threading
from typing import Callable

from ..errors import ExitStatus

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def install_stop_signals(request_stop: Callable[[], None], before_exit: Callable[[], None] = lambda: None):
    """Install the handlers (on the main thread only; elsewhere, as in a library user's thread, none); return the
    function that puts the previous ones back. *before_exit* runs before a second SIGINT's immediate exit."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    interrupts = 0

    def on_signal(number, frame):
        nonlocal interrupts
        if number == signal.SIGINT:
            interrupts += 1
            if interrupts > 1:
                before_exit()
                os._exit(ExitStatus.INTERRUPTED)
        request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]
