"""The command line: ``main()`` is the console script; the click app and its error funnel are in ``app``."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    if (sys.argv[1:] if argv is None else list(argv)) == ["--version"]:
        # answered before click and the engine are imported: a version check costs an interpreter's start
        from .. import __version__

        sys.stdout.write(f"dstream {__version__}\n")
        return
    from ..scheduler import collect_garbage_rarely
    from .app import app

    collect_garbage_rarely()
    app(args=argv, prog_name="dstream")
