"""The command line: ``main()`` is the console script; one funnel turns library errors into exit codes."""
from __future__ import annotations

import sys

import click

from ..errors import DstreamError
from ..fsio import silence_stdout
from ..scheduler import collect_garbage_rarely


class ReportedError(click.ClickException):
    """A library error shown as one line, with the exit status it stands for."""

    def __init__(self, error: DstreamError) -> None:
        super().__init__(str(error))
        self.exit_code = int(error.exit_status)

    def show(self, file=None) -> None:
        click.echo(f"dstream: {self.message}", file=file or sys.stderr)


def invoke_with_funnel(invoke):
    def wrapper(ctx: click.Context):
        try:
            return invoke(ctx)
        except DstreamError as error:
            if ctx.params.get("debug"):
                raise
            raise ReportedError(error) from None
        except BrokenPipeError:
            silence_stdout()
            ctx.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # noqa: BLE001 - a bug or an environment fault: one line, unless --debug
            if ctx.params.get("debug"):
                raise
            message = f"{type(error).__name__}: {error} (run with --debug for the traceback)"
            raise ReportedError(DstreamError(message)) from None

    return wrapper


def main(argv: list[str] | None = None) -> None:
    collect_garbage_rarely()
    app(args=argv, prog_name="dstream")


from .app import app  # noqa: E402

app.invoke = invoke_with_funnel(app.invoke)
