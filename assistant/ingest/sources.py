"""Reading and cleaning source files (.txt, .md, .html) into blocks that keep raw character offsets.

A source's "raw text" is exactly ``open(path, encoding="utf-8").read()``: every offset Crosscheck
reports indexes that string, so a quote can always be checked against the file.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from html.entities import name2codepoint
from html.parser import HTMLParser
from pathlib import Path

from ..errors import SourceError
from ..text import size_text
from ..types import Source

SUFFIXES = (".txt", ".md", ".html", ".htm")

# Whole lines that are page furniture, not content (matched case-insensitively on the stripped line).
_BOILERPLATE = re.compile(
    r"^(top of page|bottom of page|back to top|skip to (main )?content|menu|share( this( post| article)?)?"
    r"|(updated|published|posted|last (updated|modified))( on)?:?\s.{0,40}|all rights reserved.*|©.{0,80})$",
    re.IGNORECASE,
)
_TOC_HEADING = re.compile(r"^(table of contents|contents|in this article)$", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\(?\d{1,3}[.)])\s+")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Block:
    """A run of visible text: a heading or a paragraph/list item, with a map from clean to raw offsets.

    ``segments`` are (clean_start, raw_start, clean_len, raw_len): plain text has equal lengths, an HTML
    entity maps one clean character to its whole raw spelling.
    """

    kind: str  # "heading" | "text"
    text: str
    segments: tuple[tuple[int, int, int, int], ...]
    # True when the block opens a new section whose heading was lost (a wide gap, no heading line).
    section_break: bool = False

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """Raw offsets covering clean characters ``start:end`` (end exclusive, end > start)."""
        return self._raw_pos(start)[0], self._raw_pos(end - 1)[1]

    def _raw_pos(self, i: int) -> tuple[int, int]:
        k = bisect.bisect_right([s[0] for s in self.segments], i) - 1
        cs, rs, cl, rl = self.segments[k]
        if cl == rl:
            return rs + (i - cs), rs + (i - cs) + 1
        return rs, rs + rl


@dataclass(frozen=True)
class Document:
    """A loaded source: its metadata, raw text and visible blocks in reading order."""

    source: Source
    raw: str
    blocks: tuple[Block, ...] = field(default=())


def plain_block(kind: str, text: str, raw_start: int, section_break: bool = False) -> Block:
    """A block whose clean text is a verbatim slice of the raw text starting at ``raw_start``."""
    return Block(kind, text, ((0, raw_start, len(text), len(text)),), section_break)


def source_id(path: Path) -> str:
    """The id of a source: its file name without extension."""
    return path.stem


def list_source_files(folder: Path) -> list[Path]:
    """Source files in ``folder`` (not recursive), sorted by name; raises SourceError if it is missing."""
    if not folder.exists():
        raise SourceError(f"sources folder {folder} does not exist: create it and put .txt, .md or .html articles in it")
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder: pass a folder of articles with --sources")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))


def read_raw(path: Path, max_bytes: int) -> tuple[str, str]:
    """The raw text and sha256 of a file, or a SourceError naming what is wrong and how to fix it."""
    size = path.stat().st_size
    if size > max_bytes:
        raise SourceError(
            f"{path.name} is {size_text(size)}, over the {size_text(max_bytes)} limit: split it into "
            "smaller articles or raise CROSSCHECK_MAX_FILE_BYTES"
        )
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise SourceError(f"{path.name} looks binary (it contains NUL bytes): only .txt, .md and .html text files can be indexed")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path.name} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): re-save it as UTF-8"
        ) from exc
    # Universal newlines, exactly as open(path, encoding="utf-8").read() gives: offsets index this string.
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    return raw, hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (model weights are 90 MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_document(path: Path, max_bytes: int = 5_000_000) -> Document:
    """Load one source file into a Document.

    Raises:
        SourceError: the file is too large, binary, not UTF-8, or has no visible text.
    """
    raw, sha = read_raw(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        meta, blocks = parse_html(raw)
    elif suffix == ".md":
        meta, blocks = parse_markdown(raw)
    else:
        meta, blocks = {}, parse_text(raw)
    if not any(b.kind == "text" and b.text.strip() for b in blocks):
        raise SourceError(f"{path.name} has no text to index (it is empty or all boilerplate): add text or remove the file")
    title = meta.get("title") or _title_from_blocks(blocks) or path.stem
    source = Source(
        id=source_id(path), path=str(path), title=" ".join(str(title).split()), sha256=sha,
        url=_str_or_none(meta.get("url")), author=_str_or_none(meta.get("author")), date=_str_or_none(meta.get("date")),
    )
    return Document(source, raw, tuple(blocks))


def _str_or_none(v) -> str | None:
    return None if v is None else str(v)


def _title_from_blocks(blocks: list[Block]) -> str | None:
    """A leading heading before any text is the title; else the first sentence when it is short."""
    for b in blocks:
        if b.kind == "heading":
            return b.text
        first = re.split(r"(?<=[.!?])\s", b.text.strip(), maxsplit=1)[0]
        return first if len(first) <= 100 else None
    return None


# ---------------------------------------------------------------------------------------------- text
def _lines(raw: str) -> list[tuple[int, str]]:
    """(offset, line) pairs, without the newline."""
    out, pos = [], 0
    for line in raw.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def _is_heading_line(text: str) -> bool:
    """A short line without closing punctuation, e.g. 'How Dry Needling Works' or '1. Is it painful?'."""
    t = _LIST_MARKER.sub("", text).strip()
    if not t or len(t) > 100 or len(t.split()) > 12:
        return False
    if t[-1] in ".,;:" or t[0].islower():
        return False
    return True


def parse_text(raw: str) -> list[Block]:
    """Blocks of a plain-text page: one per non-empty line, boilerplate and captions removed."""
    lines = _lines(raw)
    keep = _drop_boilerplate_lines(lines)
    blocks: list[Block] = []
    blank_run, last_kind = 0, None
    for i, (off, line) in enumerate(lines):
        if not line.strip():
            blank_run += 1
            continue
        if i not in keep:
            blank_run = 0
            continue
        isolated = (i + 1 >= len(lines) or not lines[i + 1][1].strip()) and (i == 0 or not lines[i - 1][1].strip())
        kind = "heading" if isolated and _is_heading_line(line) else "text"
        if kind == "heading" and last_kind == "heading" and blocks and not _is_question(line):
            # Two headings with nothing between: the second is an image caption ("Acupuncture needles").
            blank_run = 0
            continue
        blocks.append(_line_block(kind, off, line, section_break=kind == "text" and blank_run >= 2 and last_kind != "heading"))
        blank_run, last_kind = 0, kind
    return blocks


def _is_question(line: str) -> bool:
    return line.rstrip().endswith("?")


def _line_block(kind: str, off: int, line: str, section_break: bool = False) -> Block:
    """A block from one raw line, with list markers and surrounding whitespace trimmed off its span."""
    m = _LIST_MARKER.match(line)
    start = m.end() if m else len(line) - len(line.lstrip())
    text = line[start:].rstrip()
    return plain_block(kind, text, off + start, section_break)


def _drop_boilerplate_lines(lines: list[tuple[int, str]]) -> set[int]:
    """Indexes of lines to keep: drops furniture, tables of contents and duplicated captions."""
    keep = set()
    n = len(lines)
    i = 0
    while i < n:
        s = lines[i][1].strip()
        if not s:
            i += 1
            continue
        if _BOILERPLATE.match(s):
            i += 1
            continue
        if _TOC_HEADING.match(s):
            i = _skip_toc(lines, i + 1)
            continue
        nxt = lines[i + 1][1].strip() if i + 1 < n else ""
        if nxt and nxt.lower() == s.lower() and len(s) <= 100:
            # The same short line twice in a row is an image caption and its alt text.
            i += 2
            continue
        keep.add(i)
        i += 1
    return keep


def _skip_toc(lines: list[tuple[int, str]], i: int) -> int:
    """Index of the first line after a table of contents: a run of short list items and blank lines."""
    while i < len(lines):
        s = lines[i][1]
        if s.strip() and not (_LIST_MARKER.match(s) and len(s.strip()) <= 80):
            break
        i += 1
    return i


# ------------------------------------------------------------------------------------------ markdown
def parse_markdown(raw: str) -> tuple[dict, list[Block]]:
    """Front matter (title, url, author, date) and blocks of a Markdown file."""
    meta, body_start = _front_matter(raw)
    lines = [(off, line) for off, line in _lines(raw) if off >= body_start]
    keep = _drop_boilerplate_lines(lines)
    blocks: list[Block] = []
    para: list[tuple[int, str]] = []
    blank_run, para_blank, in_fence = 0, 0, False

    def flush():
        if para:
            start, end = para[0][0], para[-1][0] + len(para[-1][1])
            m = _LIST_MARKER.match(raw[start:end])
            s = start + (m.end() if m else len(raw[start:end]) - len(raw[start:end].lstrip()))
            text = raw[s:end].rstrip()
            if text:
                brk = para_blank >= 2 and bool(blocks) and blocks[-1].kind != "heading"
                blocks.append(plain_block("text", text, s, brk))
            para.clear()

    for i, (off, line) in enumerate(lines):
        if line.strip().startswith("```"):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if not line.strip():
            flush()
            blank_run += 1
            continue
        if i not in keep:
            flush()
            blank_run = 0
            continue
        hm = _MD_HEADING.match(line)
        if hm:
            flush()
            blocks.append(plain_block("heading", hm.group(2), off + hm.start(2)))
            blank_run = 0
            continue
        if _LIST_MARKER.match(line) and para:
            flush()
        if not para:
            para_blank = blank_run
        para.append((off, line))
        blank_run = 0
    flush()
    if "title" not in meta:
        h1 = re.search(r"^#\s+(.+?)\s*#*\s*$", raw[body_start:], re.MULTILINE)
        if h1:
            meta["title"] = h1.group(1)
    return meta, blocks


def _front_matter(raw: str) -> tuple[dict, int]:
    """YAML front matter between leading '---' lines, and the offset where the body starts."""
    m = re.match(r"\A\ufeff?---\n(.*?)\n---[ \t]*(?:\n|\Z)", raw, re.DOTALL)
    if not m:
        return {}, 0
    import yaml

    try:
        data = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError:
        return {}, 0
    if not isinstance(data, dict):
        return {}, 0
    meta = {k: data[k] for k in ("title", "url", "author", "date") if data.get(k) is not None}
    if "url" not in meta and data.get("link"):
        meta["url"] = data["link"]
    return meta, m.end()


# ---------------------------------------------------------------------------------------------- html
_SKIP_TAGS = {"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button",
              "svg", "figcaption", "select", "iframe", "head"}
_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "section", "article", "main", "blockquote",
               "pre", "dt", "dd", "dl", "br", "hr", "figure", "body", "html"}
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "track", "wbr"}


class _VisibleText(HTMLParser):
    """Collects visible text of an HTML page as blocks, mapping every character back to the raw text."""

    def __init__(self, raw: str):
        super().__init__(convert_charrefs=False)
        self.raw = raw
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", raw)]
        self.skip_depth = 0
        self.heading = False
        self.in_title = False
        self.meta: dict = {}
        self.title_parts: list[str] = []
        self.blocks: list[Block] = []
        self.cur: list[tuple[str, int, int]] = []  # (clean text, raw start, raw len)

    def _pos(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta":
            key = (a.get("name") or a.get("property") or "").lower()
            if key in ("author", "og:url", "og:title", "article:published_time", "date"):
                self.meta.setdefault({"og:url": "url", "og:title": "title", "article:published_time": "date"}.get(key, key), a.get("content"))
        elif tag == "link" and (a.get("rel") or "").lower() == "canonical" and a.get("href"):
            self.meta.setdefault("url", a["href"])
        if tag == "title":
            self.in_title = True
        if tag in _SKIP_TAGS and tag not in _VOID_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS or tag in _HEADING_TAGS:
            self._flush()
            self.heading = tag in _HEADING_TAGS

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in _SKIP_TAGS and tag not in _VOID_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS or tag in _HEADING_TAGS:
            self._flush()
            self.heading = False

    def handle_data(self, data):
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.skip_depth:
            return
        self.cur.append((data, self._pos(), len(data)))

    def handle_entityref(self, name):
        start = self._pos()
        raw_len = len(name) + 2 if self.raw.startswith(";", start + len(name) + 1) else len(name) + 1
        self._entity(chr(name2codepoint[name]) if name in name2codepoint else self.raw[start:start + raw_len], start, raw_len)

    def handle_charref(self, name):
        start = self._pos()
        try:
            ch = chr(int(name[1:], 16) if name[:1] in "xX" else int(name))
        except (ValueError, OverflowError):
            ch = "\ufffd"
        raw_len = len(name) + 3 if self.raw.startswith(";", start + len(name) + 2) else len(name) + 2
        self._entity(ch, start, raw_len)

    def _entity(self, ch, start, raw_len):
        if self.in_title:
            self.title_parts.append(ch)
        elif not self.skip_depth:
            self.cur.append((ch, start, raw_len))

    def _flush(self):
        pieces, self.cur = self.cur, []
        # Trim leading and trailing whitespace pieces, then build the clean->raw map.
        text, segments = "", []
        for clean, rs, rl in pieces:
            segments.append((len(text), rs, len(clean), rl if len(clean) != rl or clean != self.raw[rs:rs + rl] else len(clean)))
            text += clean
        lead = len(text) - len(text.lstrip())
        stripped = text.strip()
        if not stripped or _BOILERPLATE.match(stripped):
            return
        block = Block("heading" if self.heading else "text", text, tuple(segments))
        if lead or len(stripped) != len(text):
            block = _sub_block(block, lead, lead + len(stripped))
        if self.blocks and block.kind == "text" and self.blocks[-1].kind == "text" and self.blocks[-1].text == block.text:
            return
        self.blocks.append(block)


def _sub_block(block: Block, start: int, end: int) -> Block:
    """The part ``start:end`` of a block's clean text, with its offset map shifted to match."""
    segs = []
    for cs, rs, cl, rl in block.segments:
        lo, hi = max(cs, start), min(cs + cl, end)
        if lo >= hi:
            continue
        if cl == rl:
            segs.append((lo - start, rs + (lo - cs), hi - lo, hi - lo))
        else:
            segs.append((lo - start, rs, hi - lo, rl))
    return Block(block.kind, block.text[start:end], tuple(segs), block.section_break)


def parse_html(raw: str) -> tuple[dict, list[Block]]:
    """Metadata (title, url, author, date) and visible-text blocks of an HTML page."""
    p = _VisibleText(raw)
    p.feed(raw)
    p.close()
    p._flush()
    meta = {k: v for k, v in p.meta.items() if v}
    title = " ".join("".join(p.title_parts).split())
    if title:
        meta["title"] = title
    elif any(b.kind == "heading" for b in p.blocks):
        meta.setdefault("title", next(b.text for b in p.blocks if b.kind == "heading"))
    return meta, p.blocks
