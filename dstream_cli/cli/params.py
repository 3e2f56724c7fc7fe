"""Click parameter types and the StageCommand that lets stages chain the way the contract writes them."""
from __future__ import annotations

import math

import click

from ..duration import EXAMPLES, parse_duration
from ..errors import UsageError


class Duration(click.ParamType):
    """"250ms", "2s", "1.5s", "5m", "1h" or bare seconds, as int milliseconds."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_duration(value)
        except UsageError:
            self.fail(f"{value!r} is not a duration ({EXAMPLES})", param, ctx)


class HostPort(click.ParamType):
    """HOST:PORT, or [HOST:]PORT when *default_host* is given."""

    name = "host:port"

    def __init__(self, default_host: str | None = None) -> None:
        self.default_host = default_host

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        host, sep, port = str(value).rpartition(":")
        if not sep:
            host = self.default_host or ""
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            form = "[HOST:]PORT" if self.default_host else "HOST:PORT"
            self.fail(f"{value!r} is not {form} (example: 127.0.0.1:9999)", param, ctx)
        return host, int(port)


class Rate(click.ParamType):
    """A rate in records per second: a positive, finite number (``inf`` and ``nan`` would stall the token bucket)."""

    name = "rate"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            rate = float(value)
        except ValueError:
            rate = None
        if rate is None or not math.isfinite(rate) or rate <= 0:
            self.fail(f"{value!r} is not a positive, finite number of records per second (example: 5000)",
                      param, ctx)
        return rate


class WatchedDirectory(click.ParamType):
    """--watch: an existing local directory, or a URL (hdfs://, s3a://, file://) for Spark to list."""

    name = "directory"

    def convert(self, value, param, ctx):
        if "://" in str(value):
            return str(value)
        return click.Path(exists=True, file_okay=False).convert(value, param, ctx)


class KeyValue(click.ParamType):
    """KEY=VALUE, as (key, value)."""

    name = "key=value"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        key, sep, rest = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE (example: spark.executor.memory=2g)", param, ctx)
        return key.strip(), rest


INPUT_SCHEMES = ("stdin", "tcp://", "listen://", "dir:", "file:", "queue:", "receiver:", "kafka://", "zmq://")


class InputURI(click.ParamType):
    """NAME=URI for -i: (name, kind, target)."""

    name = "name=uri"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, sep, uri = str(value).partition("=")
        if not sep or not name.isidentifier():
            self.fail(f"{value!r} is not NAME=URI (example: -i clicks=tcp://127.0.0.1:9999)", param, ctx)
        if uri == "stdin":
            return name, "stdin", None
        for scheme in INPUT_SCHEMES[1:]:
            if uri.startswith(scheme) and len(uri) > len(scheme):
                target = uri[len(scheme):]
                kind = scheme.rstrip(":/")
                if kind in ("tcp", "listen"):
                    target = HostPort("127.0.0.1" if kind == "listen" else None).convert(target, param, ctx)
                if kind in ("kafka", "zmq"):
                    target = uri
                return name, kind, target
        self.fail(f"{uri!r} is not an input URI (one of: stdin, tcp://HOST:PORT, listen://[HOST]:PORT, "
                  "dir:PATH, file:PATH, queue:PATH, receiver:MODULE:CLASS, kafka://HOST:PORT/TOPIC, "
                  "zmq://HOST:PORT?socket=sub|pull)", param, ctx)


class StageCommand(click.Command):
    """A stage of the chain: options may follow its arguments, and an optional argument never takes
    the name of the next stage (``window 30s print``, ``print emit``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.allow_interspersed_args = True
        own = self._own_token_count(ctx, args)
        try:
            rest = super().parse_args(ctx, args[:own])
        except click.NoSuchOption as exc:
            group = ctx.parent.command if ctx.parent else None
            if group is not None and any(exc.option_name in param.opts + param.secondary_opts
                                         for param in group.params if isinstance(param, click.Option)):
                raise click.NoSuchOption(exc.option_name, message=(
                    f"No such option '{exc.option_name}' for the stage {self.name}: {exc.option_name} is a global "
                    f"option, and global options go before the first stage (dstream {exc.option_name} ... "
                    f"{self.name} ...)"), ctx=ctx) from None
            raise
        ctx.args = [*rest, *args[own:]]
        return ctx.args

    def _own_token_count(self, ctx: click.Context, args: list[str]) -> int:
        stages = set(getattr(ctx.parent.command, "commands", {})) if ctx.parent else set()
        takes_value: dict[str, bool] = {"--help": False, "-h": False}
        required = optional = 0
        for param in self.params:
            if isinstance(param, click.Option):
                for opt in (*param.opts, *param.secondary_opts):
                    takes_value[opt] = not (param.is_flag or param.count)
            elif param.required:
                required += 1
            else:
                optional += 1
        i, positional_only = 0, False
        while i < len(args):
            token = args[i]
            if token == "--" and not positional_only:
                positional_only, i = True, i + 1
                continue
            if token.startswith("-") and len(token) > 1 and not positional_only:
                # An unknown option stays with this stage, so click names it in its error.
                name = token.split("=", 1)[0]
                i += 1 + (takes_value.get(name, False) and "=" not in token)
                continue
            if required:
                required -= 1
            elif token in stages or not optional:
                break
            else:
                optional -= 1
            i += 1
        return i

