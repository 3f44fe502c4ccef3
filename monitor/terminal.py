"""terminal: text from the network made safe to print (titles, error texts, a far end's answer).

A feed can put ESC, BEL, backspace or any other control character in a title, and a terminal
obeys them: it retitles the window, moves the cursor, hides what was printed before. Every
command that prints such text, and the console log, passes it through `printable`: a C0
control or DEL becomes its visible picture (ESC is ␛, BEL ␇), a C1 control or a bidirectional
override (which reorders what the eye reads) becomes �. One character for one, so positions in
the text (the highlights of `monitor test`) stay right.
"""

from __future__ import annotations

import re

# C0 but tab and line feed, DEL, C1, and the bidirectional marks, embeddings and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]")
# For JSON: json.dumps escapes C0 itself but leaves C1 and the bidi marks as they are.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with no control character a terminal would act on; with `lines`, line breaks and
    tabs are kept (else each becomes a space, for one-line output such as a table cell)."""
    if not lines:
        text = _LINE_BREAKS.sub(" ", text)
    return _CONTROL.sub(_picture, text)


def json_safe(text: str) -> str:
    """JSON text (from json.dumps) with C1 controls and bidi marks escaped as `\\uXXXX`."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
