"""``--where FIELD[|MODIFIER]=VALUE[,VALUE...]``: row filters written as Sigma detection items.

Each ``--where`` becomes one named selection of a Sigma detection (``{"where1": {"resp_p|gte":
1024}, "condition": "where1 and where2"}``): the values of one item, comma-separated, are
alternatives (Sigma ORs a value list; ``|all`` ANDs it), and repeated ``--where`` must all hold.
pySigma parses the detection and :func:`pcapkit.rules.compile.compile_condition` turns it into
a mask, checking every field and modifier against the table's declaration: the mechanism,
and the messages, of the rule packs. Nothing is evaluated as code.

A value is typed as a rule's YAML would be: a number for integer and float columns (and for
the comparisons ``|gt`` ``|gte`` ``|lt`` ``|lte``; ``0x`` hex too), true/false for bool
columns and ``|exists``, ``null`` for a missing value, text otherwise; a time column
(``ts``, ``last_ts``, ``query_ts`` ...) compares with an ISO 8601 time, UTC when it names no
zone, or epoch seconds: ``'ts|gte=2026-11-26T22:14:31Z'``, to the nanosecond. A number may be
written as the tables show it: ``proto=tcp``, ``tcp_flags=S.`` (tcpdump's letters),
``icmp_type=echo-request`` (ICMP's 8 or ICMPv6's 128, each with its protocol).
``\\,`` is a comma inside a value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pcapkit.errors import PcapkitError
from pcapkit.schema import INTEGER_KINDS, TEXT_KINDS, Table

_COMPARISONS = {"gt", "gte", "lt", "lte"}
#: the Sigma modifiers that fit pcapkit's columns (rules/README.md says what each does)
_MODIFIERS = ("contains, startswith, endswith, all, re, i, cased, cidr, gt, gte, lt, lte, "
              "exists, fieldref")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


class WhereError(PcapkitError):
    """A --where item that cannot select rows of the table: one line saying why."""


def where_mask(items: Sequence[str], table: Table):
    """The mask function (frame -> boolean array) of the ``--where`` items over ``table``;
    a WhereError naming the item, the problem and a hint otherwise."""
    for item in items:  # each alone first, so an error names its item
        _compiled([item], table, f"{item!r}: ")
    return _compiled(items, table, "")


def _compiled(items: Sequence[str], table: Table, said: str):
    from sigma.exceptions import SigmaError, SigmaModifierError
    from sigma.rule import SigmaDetections

    from pcapkit.rules.compile import ConditionError, compile_condition, time_values
    from pcapkit.rules.regex import quiet_policy

    detection: dict[str, object] = {f"where{n}": _item(item, table)
                                    for n, item in enumerate(items, 1)}
    detection["condition"] = " and ".join(detection)
    try:
        detection, times = time_values(detection, table)
        parsed = SigmaDetections.from_dict(detection, policy=quiet_policy())
        (condition,) = [c.parse() for c in parsed.parsed_condition]
        return compile_condition(condition, table, times)
    except ConditionError as exc:
        raise WhereError(said + str(exc) + (f" ({exc.hint})" if exc.hint else "")) from None
    except SigmaModifierError as exc:
        raise WhereError(f"{said}{exc} (modifiers: {_MODIFIERS})") from None
    except SigmaError as exc:
        raise WhereError(said + str(exc)) from None


def _item(item: str, table: Table) -> dict[str, object] | list[dict[str, object]]:
    """One ``FIELD[|MODIFIER...]=VALUE[,VALUE...]`` as a Sigma detection item (a list of
    them, any of which selects, for ICMP type names)."""
    key, sep, text = item.partition("=")
    name, *modifiers = key.strip().split("|")
    if not sep or not name:
        raise WhereError(f"{item!r} is not FIELD[|MODIFIER]=VALUE (e.g. conn_state=S0, "
                         "'resp_p|gte=1024', 'orig_h|cidr=10.244.0.0/16')")
    kind = table[name].kind if name in table else None
    texts = [v.replace("\\,", ",") for v in _UNESCAPED_COMMA.split(text)]
    if not modifiers:
        alternatives = _icmp_type_alternatives(item, name, texts, table)
        if alternatives is not None:
            return alternatives
    values = [_typed(v, name, kind, modifiers) for v in texts]
    if kind in TEXT_KINDS and not modifiers:  # a protocol a table holds as its number
        numbers = _shown_numbers(name)
        values += [str(numbers[v]) for v in values if v in numbers]
    return {key.strip(): values[0] if len(values) == 1 else values}


def _icmp_type_alternatives(item: str, name: str, texts: list[str], table: Table
                            ) -> list[dict[str, object]] | None:
    """``icmp_type=echo-request,...`` as the alternatives a name stands for, each type with
    its protocol (echo-request is ICMP's 8 and ICMPv6's 128; ICMPv6's 3 is time-exceeded),
    a number as itself; None when no value is a name (or the table cannot tell ICMP from
    ICMPv6). A name no family has is a WhereError naming the closest."""
    import difflib

    from pcapkit.cli.output import ICMP_PROTOCOL_COLUMN, ICMP_TYPE_COLUMN, ICMP_TYPE_NAMES

    if name != ICMP_TYPE_COLUMN or ICMP_PROTOCOL_COLUMN not in table or \
            table[ICMP_PROTOCOL_COLUMN].kind not in INTEGER_KINDS:
        return None
    numbers = {}  # name -> [(protocol, type)]
    for protocol, names in ICMP_TYPE_NAMES.items():
        for number, text in names.items():
            numbers.setdefault(text, []).append((protocol, number))
    out: list[dict[str, object]] = []
    named = False
    for word in (t.strip() for t in texts):
        pairs = numbers.get(word.lower())
        if pairs is not None:
            named = True
            out += [{ICMP_PROTOCOL_COLUMN: protocol, name: number} for protocol, number in pairs]
            continue
        try:
            out.append({name: int(word, 0)})
        except ValueError:
            if word == "null":
                out.append({name: None})
                continue
            close = difflib.get_close_matches(word.lower(), numbers, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else \
                "a type's number, or its name as tables show it"
            raise WhereError(f"{item!r}: no ICMP or ICMPv6 type is called {word!r} "
                             f"({hint})") from None
    return out if named else None


def _typed(text: str, name: str, kind: str | None, modifiers: list[str]) -> object:
    """The value as a YAML rule would hold it, for the column's kind and the modifiers; a
    protocol name or tcpdump's flag letters, as tables show them, for those columns."""
    if text == "null":
        return None
    lowered = text.strip().lower()
    if ("exists" in modifiers or kind == "bool") and lowered in ("true", "false"):
        return lowered == "true"
    if kind in (*INTEGER_KINDS, "f64") or _COMPARISONS & set(modifiers):
        shown = _shown_numbers(name).get(text.strip())
        if shown is not None:
            return shown
        for number in (lambda t: int(t, 0), float):
            try:
                return number(text)
            except ValueError:
                pass
    return text


def _shown_numbers(name: str) -> dict[str, int]:
    """The numbers behind the names a table shows in column ``name`` (pcapkit.cli.output)."""
    from pcapkit.cli.output import PROTOCOL_COLUMNS, PROTOCOL_NAMES, flag_letters

    if name in PROTOCOL_COLUMNS:
        return {text: number for number, text in PROTOCOL_NAMES.items()}
    if name == "tcp_flags":
        return {flag_letters(value): value for value in range(0x200)}
    return {}

