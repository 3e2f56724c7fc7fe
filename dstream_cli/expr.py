"""Turn the expressions of a command line into Python functions, once, before any input is read.

Accepted spellings (the contract's "Expressions"): ``lambda ...`` as it is; a named function
(``sum``/``min``/``max`` for a binary reduce, ``sum``/``count``/``last`` for ``update-state``);
``module:function``; otherwise the body of a function whose parameter names depend on the stage.
Every expression is compiled under a pseudo-filename naming its stage, so a syntax error points
at the stage with a caret and a runtime traceback (``--debug``) names it too.
"""
from __future__ import annotations

import ast
import builtins
import importlib
import operator
import re
from typing import Callable, Iterable

from .errors import UsageError

PRELOADED_MODULES = ("re", "math", "json", "datetime", "collections", "itertools")

BINARY_REDUCERS: dict[str, Callable] = {"sum": operator.add, "min": min, "max": max}


def _state_sum(values, state):
    return sum(values) + (state or 0)


def _state_count(values, state):
    return len(values) + (state or 0)


def _state_last(values, state):
    return values[-1] if values else state


STATE_UPDATERS: dict[str, Callable] = {"sum": _state_sum, "count": _state_count, "last": _state_last}
for _updater in STATE_UPDATERS.values():
    _updater.unchanged_without_values = True  # update([], s) is s: update-state skips keys without values

_MODULE_FUNCTION = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)$")


class Namespace:
    """The globals every expression of one run sees: safe builtins, preloaded and --import'ed modules."""

    def __init__(self, imports: Iterable[str] = ()):
        self.globals: dict[str, object] = {"__builtins__": builtins}
        for name in PRELOADED_MODULES:
            self.globals[name] = importlib.import_module(name)
        for name in imports:
            self.add_import(name)

    def add_import(self, name: str) -> None:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise UsageError(f"--import {name}: {exc}") from None
        top = name.split(".")[0]
        self.globals[top] = importlib.import_module(top)

    def known(self, name: str) -> bool:
        return name in self.globals or hasattr(builtins, name)

    def hint_for(self, name: str) -> str:
        """How to reach an unknown *name*: through the --import'ed module that has it, or by importing one."""
        holders = [key for key, value in self.globals.items()
                   if key not in PRELOADED_MODULES and key != "__builtins__" and hasattr(value, name)]
        if holders:
            return f"names from a module are written with it: {holders[0]}.{name}"
        return "use --import MODULE for a module"


def compile_function(
    source: str,
    params: tuple[str, ...],
    label: str,
    namespace: Namespace | None = None,
    named: dict[str, Callable] | None = None,
) -> Callable:
    """Compile *source* into a function of *params*; *label* names the stage in every error.

    >>> compile_function("x * 2", ("x",), "stage 1 (map)")(21)
    42
    """
    namespace = namespace or Namespace()
    text = source.strip()
    if not text:
        raise UsageError(f"{label}: the expression is empty")
    if named and text in named:
        return named[text]
    match = _MODULE_FUNCTION.match(text)
    if match and not text.startswith("lambda"):
        return _import_function(match.group(1), match.group(2), label)
    filename = f"<{label}>"
    code = _compile_source(text, params, filename, label)
    _check_names(code, namespace, label, text)
    function = _eval_compiled(code, namespace.globals)
    function.__dstream_source__ = text
    return function


def over_records(f: Callable, keep: bool = False) -> Callable[[list], list] | None:
    """*f* over a whole list as one comprehension, ``[EXPR for x in records]`` (with *keep*, the records for which
    EXPR is true: ``[x for x in records if EXPR]``): the same results without a Python call per record. None
    when *f* is not a one-parameter expression from the command line."""
    source = getattr(f, "__dstream_source__", None)
    code = getattr(f, "__code__", None)
    if source is None or code is None:
        return None
    try:
        body = ast.parse(source, mode="eval").body
    except SyntaxError:  # a body of statements
        return None
    if isinstance(body, ast.Lambda):
        arguments = body.args
        if (arguments.posonlyargs or arguments.vararg or arguments.kwonlyargs or arguments.kwarg
                or arguments.defaults or len(arguments.args) != 1):
            return None
        name, body = arguments.args[0].arg, body.body
    elif code.co_argcount == 1:
        name = code.co_varnames[0]
    else:
        return None
    return comprehension(body, name, f.__globals__, code.co_filename, keep)


def comprehension(body: ast.expr, name: str, globals_: dict, filename: str, keep: bool = False):
    """``lambda records_: [BODY for NAME in records_]`` (with *keep*: ``[NAME for NAME in records_ if BODY]``),
    compiled; None where Python refuses it in a comprehension (a walrus on the loop's name)."""
    loop = ast.comprehension(target=ast.Name(id=name, ctx=ast.Store()), iter=ast.Name(id="records_", ctx=ast.Load()),
                             ifs=[body] if keep else [], is_async=0)
    listed = ast.ListComp(elt=ast.Name(id=name, ctx=ast.Load()) if keep else body, generators=[loop])
    wrapped = ast.Expression(body=ast.Lambda(args=ast.arguments(
        posonlyargs=[], args=[ast.arg(arg="records_")], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
        defaults=[]), body=listed))
    try:
        return eval(compile(ast.fix_missing_locations(wrapped), filename, "eval"), globals_)  # noqa: S307
    except SyntaxError:
        return None


def _import_function(module_name: str, attribute: str, label: str) -> Callable:
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"{label}: cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise UsageError(f"{label}: module {module_name!r} has no function {attribute!r}") from None
    if not callable(target):
        raise UsageError(f"{label}: {module_name}:{attribute} is not callable")
    return target


def _compile_source(text: str, params: tuple[str, ...], filename: str, label: str):
    try:
        tree = ast.parse(text, filename, mode="eval")
    except SyntaxError as error:
        return _compile_statements(text, params, filename, label, error)
    if isinstance(tree.body, ast.Lambda):
        return compile(tree, filename, "eval")
    arguments = ast.arguments(
        posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None,
        kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[],
    )
    wrapped = ast.Expression(body=ast.Lambda(args=arguments, body=tree.body))
    ast.copy_location(wrapped.body, tree.body)
    ast.fix_missing_locations(wrapped)
    return compile(wrapped, filename, "eval")


def _compile_statements(text, params, filename, label, expression_error: SyntaxError):
    """A body of statements with ``return`` (``y = x * 2; return y``); else report the expression's error."""
    if "return" in text:
        body = "\n".join("    " + line for line in text.splitlines())
        try:
            module = compile(f"def _expression({', '.join(params)}):\n{body}\n", filename, "exec")
        except SyntaxError:
            pass
        else:
            function_code = next(c for c in module.co_consts if hasattr(c, "co_code"))
            return _FunctionFromStatements(module, function_code)
    raise UsageError(caret_message(label, text, expression_error)) from None


class _FunctionFromStatements:
    """Marks a compiled ``def`` so compile_function can evaluate it the same way as a lambda."""

    def __init__(self, module_code, function_code):
        self.module_code = module_code
        self.co_consts = (function_code,)
        self.co_names = ()


def caret_message(label: str, text: str, error: SyntaxError) -> str:
    lines = text.splitlines() or [text]
    lineno = min(max(error.lineno or 1, 1), len(lines))
    line = lines[lineno - 1]
    start = max((error.offset or 1) - 1, 0)
    end = error.end_offset if error.end_lineno == error.lineno and error.end_offset else start + 1
    width = max(end - 1 - start, 1)
    return f"{label}: {error.msg}\n  {line}\n  {' ' * start}{'^' * width}"


def _check_names(code, namespace: Namespace, label: str, text: str) -> None:
    """Refuse a name that is neither a parameter, a local, a builtin nor an imported module."""
    import dis

    pending = [code.module_code if isinstance(code, _FunctionFromStatements) else code]
    while pending:
        current = pending.pop()
        for instruction in dis.get_instructions(current):
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and not namespace.known(instruction.argval):
                if instruction.argval == "_expression":
                    continue
                raise UsageError(f"{label}: name {instruction.argval!r} is not defined in {text!r}"
                                 f" ({namespace.hint_for(instruction.argval)})")
        pending.extend(c for c in current.co_consts if hasattr(c, "co_code"))


def _eval_compiled(code, globals_):
    if isinstance(code, _FunctionFromStatements):
        scope: dict = {}
        exec(code.module_code, globals_, scope)  # noqa: S102 - expressions come only from the command line
        return scope["_expression"]
    return eval(code, globals_)  # noqa: S307


#: reductions people type that are the named ones, so they take the same fast paths
_REDUCER_SHAPES = {
    ast.dump(ast.parse(f"{prefix}{body}", mode="eval")): function
    for body, function in (("a + b", operator.add), ("a * b", operator.mul), ("max(a, b)", max), ("min(a, b)", min))
    for prefix in ("", "lambda a, b: ")
}


def binary_reducer(source: str, label: str, namespace: Namespace | None = None) -> Callable:
    """A reduce function (``a, b``): ``sum``/``min``/``max``, ``module:function`` or an expression;
    ``a + b``, ``a * b``, ``max(a, b)`` and ``min(a, b)`` are the same functions as the named ones."""
    function = compile_function(source, ("a", "b"), label, namespace, BINARY_REDUCERS)
    try:
        return _REDUCER_SHAPES.get(ast.dump(ast.parse(source.strip(), mode="eval")), function)
    except SyntaxError:  # a body of statements
        return function


def state_updater(source: str, label: str, namespace: Namespace | None = None) -> Callable:
    """An update-state function (``values, state``): ``sum``/``count``/``last`` or an expression."""
    return compile_function(source, ("values", "state"), label, namespace, STATE_UPDATERS)
