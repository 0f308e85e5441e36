"""Mapping templates: Jinja2 in a sandbox, checked when the mapping loads, strict when it renders.

A template may only read the variables its key documents (for example ``section`` and ``teacher`` for
class names). Attributes starting with ``_`` are refused up front; the sandbox refuses the rest at render.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

# None prints as "" (an absent teacher number should not become the word "None" in a class name).
_ENV = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, finalize=lambda value: "" if value is None else value
)


class TemplateProblem(ValueError):
    """A template is wrong; the caller adds where it sits (file, line, key)."""


class MappingTemplate:
    """One compiled template, with the key it came from for error messages."""

    def __init__(self, source: str, variables: Collection[str], where: str) -> None:
        self.source = source
        self.where = where  # "file:line: key", used in render errors
        try:
            tree = _ENV.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"template syntax error: {exc.message}") from exc
        unknown = sorted(meta.find_undeclared_variables(tree) - set(variables))
        if unknown:
            raise TemplateProblem(
                f"unknown template variable {', '.join(unknown)}; available: {', '.join(variables)}"
            )
        for name in _private_attributes(tree):
            raise TemplateProblem(f"unsafe attribute {name!r}: a template may not read names starting with _")
        self._template = _ENV.from_string(source)

    def render(self, error: Callable[[str], Exception], **context: Any) -> str:
        """Render; any failure becomes ``error(message)`` naming this template."""
        try:
            return self._template.render(**context).strip()
        except SecurityError as exc:
            raise error(f"{self.where}: template refused by the sandbox: {exc}") from exc
        except jinja2.UndefinedError as exc:
            raise error(f"{self.where}: template uses an undefined value: {exc.message}") from exc
        except Exception as exc:  # a template is user code: report any failure the same way
            raise error(f"{self.where}: template failed: {type(exc).__name__}: {exc}") from exc


def _private_attributes(tree: nodes.Template) -> list[str]:
    found = [node.attr for node in tree.find_all(nodes.Getattr) if node.attr.startswith("_")]
    found += [
        node.arg.value
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_")
    ]
    return found
