"""Mapping templates: Jinja2 in a sandbox, checked when the mapping loads, bounded and strict at render.

A template may only read the variables its key documents (for example ``section`` and ``teacher`` for
class names), and of a record only the fields its stream's contract has (``schemas/roster/``) or ``extra``.
Attributes starting with ``_`` are refused up front; the sandbox refuses the rest at render.

A template is user code run once per record while the schools' locks are held, so it is bounded: at most
``MAX_LOOP_STEPS`` loop steps, no value (string or list) it builds longer than ``MAX_SIZE``, an output of at
most ``MAX_OUTPUT`` characters, ``MAX_SECONDS`` of rendering; a template past a bound raises
``TemplateLimit`` naming its file, line and key, and the run stops before anything is written. Only the
filters in ``FILTERS`` exist (none that pads, wraps or formats to a width, and no ``random``: a class name
must be the same every night).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from plugin_runtime.failures import Failure

MAX_LOOP_STEPS = 10_000
MAX_SIZE = 10_000
MAX_OUTPUT = 1_000
MAX_SECONDS = 1.0

FILTERS = frozenset(
    {
        "abs", "attr", "capitalize", "count", "d", "default", "first", "float", "int", "join", "last",
        "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round",
        "select", "selectattr", "sort", "string", "striptags", "sum", "title", "trim", "truncate", "unique",
        "upper", "wordcount",
    }
)  # fmt: skip
# str methods that make a string as long as an argument says, or format one: not callable from a template.
_REFUSED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map"})
# What a record variable may be asked besides its fields.
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})


class TemplateProblem(ValueError):
    """A template is wrong; the caller adds where it sits (file, line, key)."""


class TemplateLimit(Failure):
    """A template went past a bound while rendering: the run stops (the text names file, line and key)."""


class _Budget:
    """What one render may still spend."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def spend(self, steps: int = 0) -> None:
        self.steps += steps
        if self.steps > MAX_LOOP_STEPS:
            raise _Exceeded(f"it ran more than {MAX_LOOP_STEPS:,} loop steps")
        if time.monotonic() > self.deadline:
            raise _Exceeded(f"it rendered for more than {MAX_SECONDS:g} s")


class _Exceeded(Exception):
    """A bound was passed; the text says which."""


_budget: ContextVar[_Budget] = ContextVar("template_budget")


def _fits(length: int) -> None:
    if length > MAX_SIZE:
        raise _Exceeded(f"it built a value of {length:,} characters or items (at most {MAX_SIZE:,})")


def _sized(value: Any) -> Any:
    """``value``, when it is not longer than MAX_SIZE (characters of a string, items of a list)."""
    if isinstance(value, str | list | tuple | dict | set | range):
        _fits(len(value))
    return value


def _small_ints(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_SIZE:
            raise _Exceeded(f"it passed the number {arg} (at most {MAX_SIZE:,})")


def _bounded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context / pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _budget.get().spend()
        _small_ints([*args, *kwargs.values()])
        if function.__name__ == "do_replace" and len(args) >= 4:  # (eval_ctx, s, old, new[, count])
            _replace_fits(*args[1:4])
        return _sized(function(*args, **kwargs))

    return bounded


def _replace_fits(text: Any, old: Any, new: Any) -> None:
    """``replace`` grows a string by ``len(new)`` at each match: refuse one that would pass MAX_SIZE."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        matches = text.count(old) if old else len(text) + 1
        _fits(len(text) + matches * len(new))


def _loop(iterable: Any) -> Iterator[Any]:
    """Every ``for`` loop of a template iterates through this: each step is counted."""
    budget = _budget.get()
    for item in iterable:
        budget.spend(1)
        yield item


def _range(*args: int) -> range:
    _small_ints(args)
    steps = range(*args)
    _fits(len(steps))
    return steps


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _budget.get().spend()
        if operator == "*":
            sequence, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                _fits(len(sequence) * max(times, 0))
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 64 or abs(left).bit_length() * max(right, 0) > 256:
                raise _Exceeded(f"it raised {left} to the power {right}")
        elif operator == "%":
            _small_ints(right if isinstance(right, tuple) else [right])
            if isinstance(left, str):
                _small_ints(int(n) for n in _digit_runs(left))
        return _sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _budget.get().spend()
        method = getattr(__obj, "__wrapped__", __obj)  # Jinja wraps str.format in its own checks
        owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
        if isinstance(owner, str) and name in _REFUSED_METHODS:
            raise SecurityError(f"str.{name} may not be called in a mapping template")
        _small_ints([*args, *kwargs.values()])
        if isinstance(owner, str) and name == "replace" and len(args) >= 2:
            _replace_fits(owner, args[0], args[1])
        return _sized(super().call(__context, __obj, *args, **kwargs))


def _digit_runs(text: str) -> list[str]:
    runs, current = [], ""
    for char in text:
        if char.isdigit():
            current += char
        elif current:
            runs.append(current)
            current = ""
    return [*runs, current] if current else runs


# None prints as "" (an absent teacher number should not become the word "None" in a class name).
_ENV = _BoundedSandbox(
    undefined=jinja2.StrictUndefined, autoescape=False, finalize=lambda value: "" if value is None else value
)
_ENV.filters = {name: _bounded_filter(f) for name, f in _ENV.filters.items() if name in FILTERS}
# Jinja's globals but lipsum (it writes as much text as asked), with a bounded range and the loop counter.
_ENV.globals = {
    **{name: value for name, value in _ENV.globals.items() if name != "lipsum"},
    "range": _range,
    "bounded_loop": _loop,
}


class MappingTemplate:
    """One compiled template, with the key it came from for error messages.

    ``variables`` maps each variable the template may read to the fields it has (None: not checked).
    """

    def __init__(self, source: str, variables: Mapping[str, Collection[str] | None], where: str) -> None:
        self.source = source
        self.where = where  # "file:line: key", used in render errors
        try:
            tree = _ENV.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"template syntax error: {exc.message}") from exc
        for name in sorted({node.name for node in tree.find_all(nodes.Filter)} - FILTERS):
            raise TemplateProblem(f"unknown filter {name!r}; allowed filters: {', '.join(sorted(FILTERS))}")
        unknown = sorted(meta.find_undeclared_variables(tree) - set(variables))
        if unknown:
            raise TemplateProblem(
                f"unknown template variable {', '.join(unknown)}; available: {', '.join(variables)}"
            )
        for name in _private_attributes(tree):
            raise TemplateProblem(f"unsafe attribute {name!r}: a template may not read names starting with _")
        for problem in _unknown_fields(tree, variables):
            raise TemplateProblem(problem)
        for loop in tree.find_all(nodes.For):  # count every loop step (MAX_LOOP_STEPS)
            loop.iter = nodes.Call(nodes.Name("bounded_loop", "load"), [loop.iter], [], None, None)
        try:
            self._template = _ENV.from_string(tree)
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"template error: {exc}") from exc

    def render(self, error: Callable[[str], Exception], **context: Any) -> str:
        """Render within the bounds; a failure becomes ``error(message)`` naming this template, a bound
        passed a TemplateLimit."""
        token = _budget.set(_Budget())
        try:
            return self._bounded_output(context).strip()
        except _Exceeded as exc:
            raise TemplateLimit(
                f"{self.where}: template stopped: {exc}; a mapping template is bounded (mappings/README.md)"
            ) from None
        except RecursionError:
            raise TemplateLimit(f"{self.where}: template stopped: it calls itself too deeply") from None
        except SecurityError as exc:
            raise error(f"{self.where}: template refused by the sandbox: {exc}") from exc
        except jinja2.UndefinedError as exc:
            raise error(f"{self.where}: template uses an undefined value: {exc.message}") from exc
        except Exception as exc:  # a template is user code: report any failure the same way
            raise error(f"{self.where}: template failed: {type(exc).__name__}: {exc}") from exc
        finally:
            _budget.reset(token)

    def _bounded_output(self, context: dict[str, Any]) -> str:
        budget, parts, length = _budget.get(), [], 0
        for part in self._template.generate(**context):
            budget.spend()
            length += len(part)
            if length > MAX_OUTPUT:
                raise _Exceeded(f"its output passed {MAX_OUTPUT:,} characters")
            parts.append(part)
        return "".join(parts)


def _private_attributes(tree: nodes.Template) -> list[str]:
    found = [node.attr for node in tree.find_all(nodes.Getattr) if node.attr.startswith("_")]
    found += [
        node.arg.value
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_")
    ]
    return found


def _unknown_fields(tree: nodes.Template, variables: Mapping[str, Collection[str] | None]) -> list[str]:
    """``section.room_no`` (a field the contract does not have) is known wrong before any record is read."""
    problems = []
    for node in [*tree.find_all(nodes.Getattr), *tree.find_all(nodes.Getitem)]:
        record = getattr(node, "node", None)
        if not isinstance(record, nodes.Name) or variables.get(record.name) is None:
            continue
        field = getattr(node, "attr", None) or getattr(getattr(node, "arg", None), "value", None)
        known = variables[record.name] or ()
        if isinstance(field, str) and field not in known and field not in _DICT_METHODS:
            name = record.name
            problems.append(
                f"{name}.{field}: {name} has no field {field!r}; its fields: {', '.join(known)}. A source "
                f"field the standard does not name is under extra: {{{{ {name}.extra.{field} }}}}"
            )
    return problems
