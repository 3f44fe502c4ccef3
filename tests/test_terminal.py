"""terminal: text from the network made safe to print."""

from __future__ import annotations

import json

from monitor.terminal import json_safe, printable


def test_controls_become_visible_one_for_one() -> None:
    text = "a\x1b]0;x\x07b\x08c\x9bd\u202ee\x7f"
    shown = printable(text)
    assert shown == "a␛]0;x␇b␈c�d�e␡"
    assert len(shown) == len(text)  # positions (the highlights of `monitor test`) hold


def test_line_breaks_stay_only_where_lines_are_wanted() -> None:
    assert printable("a\tb\nc\rd") == "a b c d"
    assert printable("a\tb\nc\rd", lines=True) == "a\tb\nc␍d"


def test_json_output_escapes_what_json_leaves_raw() -> None:
    dumped = json.dumps({"t": "x\x1b\x9b\u202e"}, ensure_ascii=False)
    safe = json_safe(dumped)
    assert json.loads(safe) == {"t": "x\x1b\x9b\u202e"}
    assert "\x9b" not in safe and "\u202e" not in safe and "\x1b" not in safe
