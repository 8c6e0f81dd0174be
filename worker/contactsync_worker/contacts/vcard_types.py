"""The types, preference and label of a vCard property, read and written (pure).

Reading accepts what real exports hold:

- vCard 3.0 ``TYPE=work,pref`` or repeated ``TYPE=`` parameters; ``pref`` means preference 1.
- vCard 2.1 bare parameters (``TEL;WORK;VOICE``), which the tokenizer files under TYPE.
- vCard 4.0 ``TYPE="voice,cell"`` and ``PREF=1`` (1 to 100; another value is ignored).
- Apple's groups: ``item1.TEL:…`` with ``item1.X-ABLabel:_$!<Mobile>!$_`` (a label Apple
  names, read as types: cell) or ``item1.X-ABLabel:reception`` (a label a person typed).
- vCard 4.0's ``LABEL`` parameter of an address (its delivery label), RFC 6868 escapes and
  the ``\\n`` of RFC 6350's own example alike.

``INTERNET``, the email kind vCard 3.0 assumes and 4.0 dropped, says nothing and is not kept;
a type that is no token of letters, digits and '-' cannot be written back and is skipped.

Writing: 4.0 gives ``TYPE=cell,voice;PREF=1``; 3.0 has no ranks, so the values of a field
with the best preference get ``TYPE=pref`` and lower ranks are not written. An address's
label is its ``LABEL`` parameter (where 4.0 readers look for it); any other value's label
goes in an Apple group with ``X-ABLabel``, which Apple's and Google's clients show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from contactsync_worker.contacts.typed import BEST_PREF, WORST_PREF, Typed, is_type_token

LABEL_PROPERTY = "X-ABLABEL"

_APPLE_LABEL = re.compile(r"_\$!<(.+)>!\$_")
# Apple's own label names and the vCard types they stand for; other names stay labels.
_APPLE_TYPES: Mapping[str, tuple[str, ...]] = {
    "home": ("home",),
    "work": ("work",),
    "other": ("other",),
    "mobile": ("cell",),
    "iphone": ("cell", "iphone"),
    "main": ("main",),
    "pager": ("pager",),
    "homefax": ("fax", "home"),
    "workfax": ("fax", "work"),
    "otherfax": ("fax", "other"),
}
_NOISE = {"EMAIL": frozenset({"internet"})}
_PARAM_ESCAPES = {"^n": "\n", "^N": "\n", "^^": "^", "^'": '"', "\\n": "\n", "\\N": "\n"}
_PARAM_ESCAPED = re.compile(r"\^[nN^']|\\[nN]")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def read_typed(
    name: str, value: str, params: Mapping[str, Sequence[str]], group_label: str | None
) -> Typed:
    """The Typed value of property ``name`` from its parameters and its group's X-ABLabel."""
    tokens = [t.strip().lower() for v in params.get("TYPE", ()) for t in v.split(",")]
    noise = _NOISE.get(name, frozenset())
    types = [t for t in tokens if t and t not in noise and is_type_token(t)]
    label = _param_text(params.get("LABEL", ())) if name == "ADR" else None
    if group_label:
        apple_types, apple_label = _apple(group_label)
        types += apple_types
        label = label or apple_label
    return Typed(value, tuple(types), _pref(params.get("PREF", ())), label)


def _apple(label: str) -> tuple[tuple[str, ...], str | None]:
    match = _APPLE_LABEL.fullmatch(label.strip())
    if match is None:
        return (), label
    name = match.group(1)
    known = _APPLE_TYPES.get(name.lower())
    return (known, None) if known else ((), name)


def _pref(values: Sequence[str]) -> int | None:
    ranks = [int(v) for v in values if v.strip().isdigit()]
    valid = [r for r in ranks if BEST_PREF <= r <= WORST_PREF]
    return min(valid) if valid else None


def _param_text(values: Sequence[str]) -> str | None:
    # The tokenizer split an unquoted value at its commas; they were the value's own.
    text = ",".join(values)
    return _PARAM_ESCAPED.sub(lambda m: _PARAM_ESCAPES[m.group(0)], text) or None


def type_parameters(name: str, typed: Typed, version: str, best_pref: int | None) -> str:
    """``;TYPE=…;PREF=…;LABEL="…"`` for one value; ``best_pref`` is the field's best rank."""
    types = list(typed.types)
    params = ""
    if version == "3.0" and typed.pref is not None and typed.pref == best_pref:
        types.append("pref")
    if types:
        params += f";TYPE={','.join(types)}"
    if version == "4.0" and typed.pref is not None:
        params += f";PREF={typed.pref}"
    if name == "ADR" and typed.label:
        params += f';LABEL="{_param_escape(typed.label)}"'
    return params


def grouped_label(name: str, typed: Typed) -> str | None:
    """The label that goes in an Apple group next to the property, if any."""
    return typed.label if name != "ADR" else None


def _param_escape(text: str) -> str:
    # RFC 6868: a quoted parameter holds no DQUOTE or line break; ^ escapes them.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("^", "^^").replace('"', "^'").replace("\n", "^n")
    return _CONTROL.sub("", text)
