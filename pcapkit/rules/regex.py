"""RE2, quietly: the one place pcapkit compiles a rule's regular expressions.

Rules and ``--where`` match text with RE2 (linear time whatever the pattern). RE2's C++ side
logs a pattern it cannot parse on stderr itself (absl's "All log messages before
absl::InitializeLog()..." and an ``re2.cc`` line), and its Python binding's error holds the
message as bytes, which pySigma prints as ``b'...'``. Every compile goes through
:func:`compile_re2` so a bad pattern is reported once, as pcapkit's own one-line problem, in
text; :func:`quiet_policy` is pySigma's default (safe) policy with that engine, for parsing
rules and ``--where`` items.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import re2
from sigma.policy import SigmaPolicy, default_policy
from sigma.policy.regex_engine import RE2RegexEngine


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message is RE2's, as text."""


def compile_re2(pattern: str, *, ignore_case: bool = False):
    """``pattern`` compiled by RE2 without RE2 logging on stderr; a RegexError with RE2's
    message as text when it does not compile."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise RegexError(_text(exc)) from None


def _text(exc: Exception) -> str:
    """The message of an exception whose argument may be bytes (RE2's), as text."""
    message = exc.args[0] if exc.args else str(exc)
    if isinstance(message, bytes):
        return message.decode("utf-8", errors="replace")
    return str(message)


class QuietRE2(RE2RegexEngine):
    """pySigma's RE2 engine compiling through :func:`compile_re2` (Python ``re`` flags as
    RE2's inline flags, as pySigma's engine does), raising RegexError: pySigma's "Regular
    expression ... is invalid: ..." then ends in text."""

    def compile(self, pattern: str, flags: int = 0):
        prefix = "".join(letter for flag, letter in ((re.IGNORECASE, "i"),
                                                     (re.MULTILINE, "m"), (re.DOTALL, "s"))
                         if int(flags) & int(flag))
        return compile_re2(f"(?{prefix}){pattern}" if prefix else pattern)

    @property
    def error(self) -> type[Exception]:
        return RegexError


@functools.cache
def quiet_policy() -> SigmaPolicy:
    """pySigma's default (safe) policy with the :class:`QuietRE2` engine."""
    return dataclasses.replace(default_policy, regex_engine=QuietRE2())
