"""Fitting output to the terminal's width without ever splitting an id, an ARN or a path.

rich folds a word wider than its column mid-word (`vpc-ec13c95f` / `d7d50a431`), and shares a narrow table's width out
without regard to its longest words; a folded ARN cannot be copied. Here, before a table is drawn, each column gets at
least its longest word; a word too long for any column at this width leaves its cell for a numbered line of its own
below the table (`[1] arn:aws:iam::…`), printed whole even when wider than the terminal (the terminal wraps it, and
copying it gives it back in one piece). Prose (titles, captions, the cost line) wraps at spaces only, for the same reason.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Iterable

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

# Below this, a column is too narrow to read: a word longer than the others leave it moves out of the table instead.
COMFORTABLE = 20
WORD = re.compile(r"\S+")
# A word without the punctuation around it (`(vpce-1)`, `arn:…:key/1:`): what is moved out, so a copy is the id alone.
ID_LIKE = re.compile(r"(?<![^\s(\[{'\"])[^\s(\[{'\"]\S*?(?=[,;:.)\]}'\"]*(?:\s|$))")


def wrap_words(text: Text, width: int) -> list[Text]:
    """`text` broken into lines at spaces only (its own newlines kept, styles kept): a word wider than `width` is a
    line of its own, whole."""
    out: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        plain, start, end = line.plain, None, 0
        for word in WORD.finditer(plain):
            if start is not None and cell_len(plain[start:word.end()]) > width:
                out.append(line[start:end])
                start = None
            if start is None:
                start = word.start()
            end = word.end()
        out.append(line[start:end] if start is not None else Text(""))
    return out


class Prose:
    """A paragraph wrapped at spaces to the width it is drawn at, never inside a word. `hang`: a one-line text keeps
    its leading indentation, and its continuation lines are indented `hang` further (a progress line)."""

    def __init__(self, text: str | Text, hang: int | None = None):
        self.text = text if isinstance(text, Text) else Text(text)
        self.hang = hang

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if self.hang is None or "\n" in self.text.plain:
            yield Text("\n").join(wrap_words(self.text, width))
            return
        lead = len(self.text.plain) - len(self.text.plain.lstrip(" "))
        first, *rest = wrap_words(self.text[lead:], max(width - lead, 1))
        lines = [Text(" " * lead) + first]
        if rest:
            indent = lead + self.hang
            lines += [Text(" " * indent) + line for line in wrap_words(Text(" ").join(rest), max(width - indent, 1))]
        yield Text("\n").join(lines)


def _plain(cell: Any) -> str | None:
    if isinstance(cell, Text):
        return cell.plain
    return cell if isinstance(cell, str) else None


def _longest(texts: Iterable[str], measure) -> int:
    return max((measure(t) for t in texts), default=0)


class Fitted:
    """A rich Table drawn so that no word is split: see the module's docstring. Its title and caption become prose
    around it, at the full width rather than the table's."""

    def __init__(self, table: Table):
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, notes = fit_table(self.table, options.max_width)
        if self.table.title:
            yield Prose(self.table.title)
        yield table
        for number, word in notes:
            yield Text(f"[{number}] {word}", no_wrap=True, overflow="ignore")
        if self.table.caption:
            yield Prose(self.table.caption)


def fit_table(original: Table, width: int) -> tuple[Table, list[tuple[int, str]]]:
    """A copy of `original` (no title or caption) with each column's width set, and the words moved out of it."""
    table = copy.copy(original)
    table.title = table.caption = None
    table.columns = [copy.copy(c) for c in original.columns]
    cells = [[_plain(c) for c in column._cells] for column in table.columns]
    if any(text is None for column in cells for text in column):
        return table, []  # a nested renderable: rich lays it out as it would
    headers = [_plain(c.header) or "" for c in table.columns]
    wraps = [not c.no_wrap for c in table.columns]

    def words(i: int) -> list[str]:
        return [w for t in (*cells[i], headers[i]) for w in t.split()]

    def lines(i: int) -> list[str]:
        return [line for t in (*cells[i], headers[i]) for line in t.split("\n")]

    least = [_longest(words(i), cell_len) if wraps[i] else _longest(lines(i), cell_len) for i in range(len(cells))]
    most = [max(_longest(lines(i), cell_len), 1) for i in range(len(cells))]
    room = width - table._extra_width - sum(table._get_padding_width(i) for i in range(len(cells)))
    notes: list[tuple[int, str]] = []
    comfortable = [min(m, max(w, COMFORTABLE)) for w, m in zip(least, most)]
    for i in sorted(range(len(cells)), key=lambda i: -least[i]):
        excess = sum(least) - room
        if excess <= 0 or not wraps[i]:
            continue
        # Enough for the others to be read comfortably, or at least enough for the table to fit.
        budget = max(room - sum(comfortable[:i] + comfortable[i + 1:]), least[i] - excess, COMFORTABLE // 2)
        column = table.columns[i]
        column._cells = [_move_long_words(c, budget, notes) for c in column._cells]
        cells[i] = [_plain(c) for c in column._cells]
        least[i] = _longest(words(i), cell_len)
    if sum(least) > room:
        return table, notes  # even so too wide: rich folds
    for column, width_ in zip(table.columns, _share(room, least, most)):
        column.width = width_
    return table, notes


def _move_long_words(cell: Any, budget: int, notes: list[tuple[int, str]]) -> Any:
    text = cell if isinstance(cell, Text) else Text(cell)
    long = [m for m in ID_LIKE.finditer(text.plain) if cell_len(m.group()) > budget]
    if not long:
        return cell
    out, at = Text(), 0
    for m in long:
        known = [n for n, w in notes if w == m.group()]
        number = known[0] if known else len(notes) + 1
        if not known:
            notes.append((number, m.group()))
        out.append_text(text[at:m.start()])
        out.append(f"[{number}]")
        at = m.end()
    out.append_text(text[at:])
    return out


def _share(room: int, least: list[int], most: list[int]) -> list[int]:
    """Widths from `least` up to `most`, the spare room filled level by level (narrow columns first), so a short
    column is not starved to give a long one a few more characters."""
    widths = list(least)
    spare = room - sum(widths)
    while spare > 0:
        growing = [i for i in range(len(widths)) if widths[i] < most[i]]
        if not growing:
            break
        level = min(widths[i] for i in growing)
        at_level = [i for i in growing if widths[i] == level]
        for i in at_level:
            if spare == 0:
                break
            widths[i] += 1
            spare -= 1
    return widths


def lays_out(obj: Any) -> bool:
    """`obj` is laid out here (a table, once fitted, or prose): printed without the console's crop."""
    return isinstance(obj, (Table, Fitted, Prose))


def for_terminal(obj: Any) -> Any:
    """What Terminal prints for `obj`: a table fitted, anything else as it is."""
    return Fitted(obj) if isinstance(obj, Table) else obj
