"""A receipt page read from its content stream (``docs/security.md``, "A receipt PDF").

A small reader for the operators our layouts write (``receipts.render.page``,
``receipts.render.qr``, ``receipts.render.seal``): graphics operators with their operands, and
the text object's lines, each with where it starts, its size, colour and rendering mode, and its
text read through the fonts' ``/ToUnicode`` maps. Any other syntax (arrays, dictionaries,
inline images, ``TJ``, text spacing or scaling, a rotated text matrix) is not something a
receipt page holds and is reported, not interpreted.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field

from receipts.verify.pdf_fonts import PageFonts

__all__ = ["Op", "PageContent", "ShownLine", "parse_operators", "qr_block", "read_page"]

Op = tuple[str, tuple[float, ...]]
"""A graphics operator and its numeric operands."""

_TOKEN = re.compile(
    rb"\s*(?:<([0-9A-Fa-f\s]*)>"  # 1 hex string
    rb"|\(((?:\\.|[^\\()])*)\)"  # 2 literal string (no nested parentheses)
    rb"|/([^\s/\[\]()<>{}%]*)"  # 3 name
    rb"|([+-]?(?:\d+\.?\d*|\.\d+))"  # 4 number
    rb"|([A-Za-z][A-Za-z0-9*]*|['\"])"  # 5 operator
    rb"|(%[^\r\n]*)"  # 6 comment
    rb"|(\S))",  # 7 anything else
    re.S,
)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|.)", re.S)
_TEXT_STATE = frozenset({"rg", "RG", "Tr", "w"})
_BLACK: tuple[float, ...] = (0.0, 0.0, 0.0)
_DEFAULT_STATE = {"rg": _BLACK, "RG": _BLACK, "Tr": (0.0,), "w": (1.0,)}


@dataclass
class ShownLine:
    """A line of text the page shows: one text matrix (``Tm``) and the strings after it."""

    x: float
    y: float
    size: float = 0.0
    text: str = ""
    fill: tuple[float, ...] = (0.0, 0.0, 0.0)
    stroke: tuple[float, ...] = (0.0, 0.0, 0.0)
    mode: float = 0.0
    line_width: float = 1.0


@dataclass
class PageContent:
    """What a page's content stream draws."""

    graphics: list[Op] = field(default_factory=list)
    """Operators outside text objects (the ``q``/``Q`` around a text object left out)."""
    lines: list[ShownLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Syntax or operators no layout writes."""
    qr: tuple[tuple[float, ...], list[tuple[float, ...]]] | None = None
    """The QR code's matrix and rectangles when it is written exactly as
    ``receipts.render.qr.qr_operators`` writes it (then left out of :attr:`graphics`)."""


def _unescape(raw: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8) & 0xFF])
        if code in (b"\r\n", b"\n", b"\r"):
            return b""
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, raw)


_SPECIAL = re.compile(rb"[()<>\[\]{}/%]")
_WHITE = frozenset(b" \t\r\n\f\x00")


def _pieces(data: bytes) -> list[bytes]:
    """``data`` cut before each ``BT`` and after the ``ET`` that follows it."""
    pieces: list[bytes] = []
    position = 0
    while True:
        begin = _keyword(data, b"BT", position)
        end = -1 if begin < 0 else _keyword(data, b"ET", begin + 2)
        if end < 0:
            pieces.append(data[position:])
            return pieces
        pieces += [data[position:begin], data[begin : end + 2]]
        position = end + 2


def _keyword(data: bytes, word: bytes, start: int) -> int:
    """Where ``word`` next stands alone (between white space) from ``start``; -1 if nowhere."""
    found = data.find(word, start)
    while found >= 0:
        before = data[found - 1] if found else 32
        after = data[found + 2] if found + 2 < len(data) else 32
        if before in _WHITE and after in _WHITE:
            return found
        found = data.find(word, found + 1)
    return -1


def _tokens(data: bytes) -> list[tuple[str, list[object]]]:
    """Operators with their operands (floats, names as ``/Name`` strings, strings as bytes).

    Most of a page is graphics, numbers and operators only: a stretch without strings, names
    or comments is split on white space, several times faster than the full tokenizer, which
    reads the text objects and anything else. (A text object cut short by an ``ET`` inside a
    string leaves an unbalanced string, which the full tokenizer reports.)"""
    out: list[tuple[str, list[object]]] = []
    for piece in _pieces(data):
        out += _tokens_of(piece)
    return out


def _tokens_of(piece: bytes) -> list[tuple[str, list[object]]]:
    """The tokens of one piece of :func:`_pieces`."""
    out: list[tuple[str, list[object]]] = []
    if _SPECIAL.search(piece):
        _full(piece, out)
    else:
        _plain(piece, out)
    return out


# Numbers and operators, each ended by white space or the end: one way to match, so a hostile
# stream cannot make the expression backtrack (time stays linear in its length).
_PLAIN_STRETCH = re.compile(rb"\s*(?:(?:[-+.0-9]+|[A-Za-z*]+)(?:\s+|\Z))*")
_PLAIN_OP = re.compile(rb"((?:[-+.0-9]+\s+)*)([A-Za-z*]+)")


def _plain(data: bytes, out: list[tuple[str, list[object]]]) -> None:
    """Numbers and operators only (checked whole first): operands come as a tuple of floats."""
    if _PLAIN_STRETCH.fullmatch(data) is None:
        _full(data, out)
        return
    try:
        out.extend(
            (op.decode("ascii"), tuple(map(float, operands.split())))  # type: ignore[misc]
            for operands, op in _PLAIN_OP.findall(data)
        )
    except ValueError:  # "1.2.3" and the like
        out.append(("?a number no layout writes", []))


def _full(data: bytes, out: list[tuple[str, list[object]]]) -> None:
    operands: list[object] = []
    for match in _TOKEN.finditer(data):
        hexa, literal, name, number, operator, _comment, other = match.groups()
        if number is not None:
            operands.append(float(number))
        elif operator is not None:
            out.append((operator.decode("ascii"), operands))
            operands = []
        elif hexa is not None:
            digits = b"".join(hexa.split())
            operands.append(bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii")))
        elif literal is not None:
            operands.append(_unescape(literal))
        elif name is not None:
            operands.append("/" + name.decode("latin-1"))
        elif other is not None:
            out.append(("?" + other.decode("latin-1"), []))
    if operands:
        out.append(("?operands without an operator", []))


@functools.lru_cache(maxsize=4096)
def parse_operators(text: str) -> tuple[Op, ...]:
    """Graphics operators as a layout writes them (numbers only); the same lines and frames
    recur on every page of a layout, so they are parsed once."""
    return tuple(
        (op, tuple(float(v) for v in args))  # type: ignore[arg-type]
        for op, args in _tokens(text.encode("ascii"))
    )


def read_page(content: bytes, fonts: PageFonts) -> PageContent:
    """The graphics and text lines of a page's (decoded) content stream."""
    page = PageContent()
    content = _take_qr(content, page)
    reader = _Reader(page, fonts)
    for piece in _pieces(content):
        known = None if reader.in_text else _graphics_piece(piece, reader.closing)
        if known is None:
            for op, args in _tokens_of(piece):
                reader.token(op, args)
        else:
            page.graphics.extend(known[0])
            page.problems.extend(known[1])
            reader.closing = known[2]
    if reader.in_text:
        page.problems.append("a text object that is never closed")
    return page


class _Reader:
    """The page's state, operator by operator (:func:`read_page`)."""

    def __init__(self, page: PageContent, fonts: PageFonts) -> None:
        self.page, self.fonts = page, fonts
        self.in_text = self.closing = False
        self.line: ShownLine | None = None
        self.state = dict(_DEFAULT_STATE)
        self.font: tuple[str, float] | None = None
        self.depth = self.counted = 0  # states open (q less Q) in page.graphics[: counted]

    def _open_states(self) -> int:
        for op, _ in self.page.graphics[self.counted :]:
            self.depth += 1 if op == "q" else -1 if op == "Q" else 0
        self.counted = len(self.page.graphics)
        return self.depth

    def token(self, op: str, args: list[object]) -> None:
        page = self.page
        if op.startswith("?"):
            page.problems.append(f"content syntax {op[1:]!r} that no layout writes")
            return
        if self.closing:
            self.closing = False
            if op == "Q":
                return
        if not self.in_text:
            if op == "BT":
                self.in_text = True
                if page.graphics and page.graphics[-1] == ("q", ()):
                    page.graphics.pop()
                if self._open_states():  # it would take that state's matrix and colours
                    page.problems.append("a text object inside a graphics state of the page's")
                self.state = dict(_DEFAULT_STATE)  # the page's, not the last object's
                return
            _graphic(op, args, page.graphics, page.problems)
        else:
            self._text(op, args)

    def _text(self, op: str, args: list[object]) -> None:
        page = self.page
        if op == "ET":
            self.in_text, self.closing, self.line = False, True, None
        elif op in _TEXT_STATE:
            numbers = _numbers(args)
            if numbers is None:
                page.problems.append(f"text operator {op} with operands no layout writes")
            else:
                self.state[op] = numbers
        elif op == "Tm":
            numbers = _numbers(args)
            if numbers is None or len(numbers) != 6 or numbers[:4] != (1.0, 0.0, 0.0, 1.0):
                page.problems.append("a scaled, rotated or skewed text matrix")
                self.line = None
                return
            self.line = ShownLine(numbers[4], numbers[5])
            page.lines.append(self.line)
        elif op == "Tf":
            if len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], float):
                page.problems.append("a Tf operator no layout writes")
                return
            self.font = (args[0], args[1])
        elif op == "Tj":
            _show(page, self.line, self.font, args, self.state, self.fonts)
        else:
            page.problems.append(f"text operator {op}, which no layout writes")


def _graphic(op: str, args: list[object], graphics: list[Op], problems: list[str]) -> None:
    """One operator outside text objects (not ``BT``)."""
    numbers = _numbers(args)
    if numbers is None:
        problems.append(f"operator {op} with operands no layout writes")
    elif op != "cm" or numbers != (1.0, 0.0, 0.0, 1.0, 0.0, 0.0):
        graphics.append((op, numbers))
    # else the identity matrix: reportlab's canvas starts every page with it


# Pieces of a page outside its text objects (the layout's lines and frames, the seal) recur
# on every page of a layout and issuer: read once, kept by their bytes (what a piece reads as
# is a function of its bytes alone, so no file can change what another's piece reads as).
# Bounded: at most _KEPT pieces of at most _KEPT_BYTES each.
_KEPT = 32
_KEPT_BYTES = 65_536


def _graphics_piece(
    piece: bytes, closing: bool
) -> tuple[tuple[Op, ...], tuple[str, ...], bool] | None:
    """The operators and problems of a piece read outside a text object (``closing``: just
    after one), and whether it still closes one; None when the piece opens a text object (it
    is then read operator by operator)."""
    if len(piece) > _KEPT_BYTES:
        return _read_graphics(piece, closing)
    return _kept_graphics(piece, closing)


def _read_graphics(
    piece: bytes, closing: bool
) -> tuple[tuple[Op, ...], tuple[str, ...], bool] | None:
    graphics: list[Op] = []
    problems: list[str] = []
    for op, args in _tokens_of(piece):
        if op.startswith("?"):
            problems.append(f"content syntax {op[1:]!r} that no layout writes")
            continue
        if op == "BT":
            return None
        if closing:
            closing = False
            if op == "Q":
                continue
        _graphic(op, args, graphics, problems)
    return tuple(graphics), tuple(problems), closing


_kept_graphics = functools.lru_cache(maxsize=_KEPT)(_read_graphics)


# The QR code as qr_operators writes it: read with one expression, not operator by operator
# (most of a page's operators are its modules).
_QR_CODE = re.compile(
    rb"q 0 0 0 rg ((?:[0-9.]+ ){6})cm\n((?:[0-9]+ [0-9]+ [0-9]+ 1 re\n)+)f Q(?=\s)"
)
# Each module line of the code is "x y w 1 re\n" (the expression above): without its
# " 1 re\n", the block is x, y, w, x, y, w, ...
_QR_LINE_END = b" 1 re\n"


def _take_qr(content: bytes, page: PageContent) -> bytes:
    """``content`` without the QR code when it comes, in the exact form the renderer writes,
    before any text object; the code is then on ``page.qr``. Any other form is read operator
    by operator (and found by :func:`qr_block`)."""
    found = _QR_CODE.search(content)
    if found is None or _keyword(content[: found.start()], b"BT", 0) >= 0:
        return content
    matrix = tuple(float(v) for v in found.group(1).split())
    numbers = list(map(int, found.group(2).replace(_QR_LINE_END, b" ").split()))
    rects: list[tuple[float, ...]] = list(
        zip(numbers[0::3], numbers[1::3], numbers[2::3], itertools.repeat(1), strict=False)
    )
    page.qr = matrix, rects
    return content[: found.start()] + b"\n" + content[found.end() :]


def _show(
    page: PageContent,
    line: ShownLine | None,
    font: tuple[str, float] | None,
    args: list[object],
    state: dict[str, tuple[float, ...]],
    fonts: PageFonts,
) -> None:
    if line is None or font is None or len(args) != 1 or not isinstance(args[0], bytes):
        page.problems.append("text shown without a position and font of its own")
        return
    text = fonts.decode(font[0], args[0])
    if text is None:
        page.problems.append(f"text in font {font[0]} that its /ToUnicode map does not read")
        return
    if not line.text:
        line.size = font[1]
        line.fill, line.stroke = state["rg"], state["RG"]
        line.mode, line.line_width = state["Tr"][0], state["w"][0]
    elif (font[1], state["rg"], state["Tr"][0]) != (line.size, line.fill, line.mode):
        page.problems.append("a line whose size, colour or rendering changes along it")
    line.text += text


def _numbers(args: list[object] | tuple[float, ...]) -> tuple[float, ...] | None:
    if type(args) is tuple:
        return args
    if all(isinstance(a, float) for a in args):
        return tuple(args)  # type: ignore[arg-type]
    return None


def qr_block(ops: list[Op]) -> tuple[int, int, tuple[float, ...], list[tuple[float, ...]]] | None:
    """The QR code as :func:`receipts.render.qr.qr_operators` draws it: ``q 0 0 0 rg <cm>``,
    rectangles, ``f Q``. Its first and last index, its matrix and its rectangles."""
    for start in range(len(ops) - 4):
        if ops[start] != ("q", ()) or ops[start + 1] != ("rg", (0.0, 0.0, 0.0)):
            continue
        matrix = ops[start + 2]
        if matrix[0] != "cm" or len(matrix[1]) != 6:
            continue
        end = start + 3
        rects = []
        while end < len(ops) and ops[end][0] == "re":
            rects.append(ops[end][1])
            end += 1
        if rects and ops[end : end + 2] == [("f", ()), ("Q", ())]:
            return start, end + 1, matrix[1], rects
    return None
