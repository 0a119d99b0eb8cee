"""Rendering answers, flags and sources for people: HTML for the app, Markdown for export, plain text for a terminal.

Pure functions over the library's results (and their JSON dicts), so tests call them directly. Every piece of source
or user text goes through ``esc`` before it reaches a page: an article or a question containing ``<script>`` shows
as text and runs nothing.
"""

from __future__ import annotations

import html
from pathlib import Path
import re
from urllib.parse import quote as url_quote
from urllib.parse import unquote as url_unquote

_CITE_PREFIX = "#cc-cite/"
_TRAILING_MARKER = re.compile(r"\s\[(\d+)\]$")
_HEADING_PREFIX = re.compile(r"^\*(.+?):\* ")


def esc(text) -> str:
    """HTML-escaped text, quotes included (safe inside attributes too)."""
    return html.escape("" if text is None else str(text), quote=True)


def _flat(text: str) -> str:
    """One line: a blank line inside a chat message would end its HTML block and break the layout."""
    return " ".join(str(text).split())


def _safe_url(url: str | None) -> str | None:
    return url if url and re.match(r"^https?://", url, re.IGNORECASE) else None


def cite_href(source_id: str, start: int, end: int) -> str:
    """The fragment a citation link carries: which span of which source to open in the pane."""
    return f"{_CITE_PREFIX}{url_quote(source_id, safe='')}/{int(start)}/{int(end)}"


def parse_cite_href(href: str) -> tuple[str, int, int]:
    """Inverse of ``cite_href``; raises ValueError on anything else."""
    sid, start, end = href.split(_CITE_PREFIX, 1)[1].split("/")
    return url_unquote(sid), int(start), int(end)


def cite_link(label: str, source_id: str, start: int, end: int, title: str = "") -> str:
    return (f'<a class="cc-cite" href="{esc(cite_href(source_id, start, end))}" title="{esc(title)}">'
            f"{esc(label)}</a>")


def _citation_for(citations: list[dict], source_id: str, start: int, end: int) -> dict | None:
    """The citation whose span overlaps a flag quote, so the warning can point at its [n]."""
    for c in citations:
        if c["source_id"] == source_id and c["start"] < end and start < c["end"]:
            return c
    return None


def _quote_block(source_id: str, quote: str, start: int, end: int, titles: dict[str, str], citations: list[dict]) -> str:
    title = titles.get(source_id, source_id)
    c = _citation_for(citations, source_id, start, end)
    label = f"[{c['n']}]" if c else "open"
    return (f'<blockquote class="cc-quote"><div class="cc-quote-src">{esc(title)}</div>'
            f"<div>“{esc(_flat(quote))}” {cite_link(label, source_id, start, end, title)}</div></blockquote>")


def render_flag(flag: dict, titles: dict[str, str], citations: list[dict] = ()) -> str:
    """A flag card: a disagreement shows both quotes side by side; an unsupported claim its quote and why."""
    citations = list(citations)
    if flag["kind"] == "disagreement" and flag.get("other"):
        o = flag["other"]
        return ('<div class="cc-flag cc-disagreement"><div class="cc-flag-head">⚠️ The sources disagree</div>'
                '<div class="cc-sides">'
                + _quote_block(flag["source_id"], flag["quote"], flag["start"], flag["end"], titles, citations)
                + _quote_block(o["source_id"], o["quote"], o["start"], o["end"], titles, citations)
                + f'</div><div class="cc-why">{esc(_flat(flag.get("explanation") or ""))}</div></div>')
    strength = f" ({esc(flag['strength'])})" if flag.get("strength") else ""
    return (f'<div class="cc-flag cc-unsupported"><div class="cc-flag-head">⚠️ Unsupported claim{strength}</div>'
            + _quote_block(flag["source_id"], flag["quote"], flag["start"], flag["end"], titles, citations)
            + f'<div class="cc-why">{esc(_flat(flag.get("explanation") or ""))}</div></div>')


def _answer_line(line: str, by_n: dict[int, dict]) -> str:
    """One answer bullet: escaped text, the section-heading prefix in italics, its trailing [n] as a link."""
    body = line[2:] if line.startswith("- ") else line
    markers = []
    while (m := _TRAILING_MARKER.search(body)) and int(m.group(1)) in by_n:
        markers.insert(0, by_n[int(m.group(1))])
        body = body[: m.start()]
    prefix = ""
    if h := _HEADING_PREFIX.match(body):
        prefix, body = f"<em>{esc(h.group(1))}:</em> ", body[h.end():]
    links = " ".join(cite_link(f"[{c['n']}]", c["source_id"], c["start"], c["end"], c["title"]) for c in markers)
    return f"<li>{prefix}{esc(_flat(body))} {links}</li>"


def render_answer(answer: dict, titles: dict[str, str]) -> str:
    """A chat message for an Answer dict: the cited points, then a card per flag; an abstention plainly.

    The answer's own "⚠️" warning lines are replaced by the richer cards built from ``answer["flags"]``.
    """
    if answer.get("abstained"):
        return ('<div class="cc-answer cc-abstained"><strong>No answer from the sources.</strong> '
                f"{esc(_flat(answer['answer']))}</div>")
    by_n = {c["n"]: c for c in answer.get("citations") or []}
    lines = [l for l in answer["answer"].splitlines() if l.strip()]
    points = [_answer_line(l, by_n) for l in lines if not l.startswith("⚠️")]
    loose = [f'<div class="cc-flag">{esc(_flat(l))}</div>' for l in lines if l.startswith("⚠️")] if not answer.get("flags") else []
    cards = [render_flag(f, titles, list(by_n.values())) for f in answer.get("flags") or []]
    return ('<div class="cc-answer"><ul class="cc-points">' + "".join(points) + "</ul>"
            + "".join(cards + loose) + "</div>")


_MD_PUNCT = r"\\`*_{}\[\]()#+\-.!|~$"


def render_question(question: str) -> str:
    """The user's turn as shown in the chat: Markdown- and HTML-escaped, so every character shows as typed."""
    return esc(re.sub(f"([{_MD_PUNCT}])", r"\\\1", question))


def question_text(rendered: str) -> str:
    """Inverse of ``render_question``: the question as the user typed it."""
    return re.sub(f"\\\\([{_MD_PUNCT}])", r"\1", html.unescape(rendered))


def render_passage(raw: str, source: dict, start: int, end: int) -> str:
    """The side pane: the whole article text with the cited span in <mark>, under its title and link."""
    url = _safe_url(source.get("url"))
    link = (f'<a class="cc-src-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(url)}</a>'
            if url else "")
    meta = f'{esc(source.get("id", ""))} · characters {start}–{end}'
    return (f'<div class="cc-article"><h3 class="cc-article-title">{esc(source.get("title", ""))}</h3>{link}'
            f'<div class="cc-article-meta">{meta}</div>'
            f'<div class="cc-article-text">{esc(raw[:start])}<mark class="cc-mark">{esc(raw[start:end])}</mark>'
            f"{esc(raw[end:])}</div></div>")


def render_sources(infos: list[dict], flags: list[dict], skipped: dict[str, str]) -> str:
    """The Sources tab: one row per article with its claim and disagreement counts, its flags, and skipped files (name -> reason)."""
    titles = {i["id"]: i["title"] for i in infos}
    rows = []
    for i in infos:
        url = _safe_url(i.get("url"))
        name = (f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(i["title"])}</a>'
                if url else esc(i["title"]))
        dis = ", ".join(f"{n} with {esc(titles.get(o, o))}" for o, n in sorted(i["disagreements"].items())) or "none"
        own = [f for f in flags if f["source_id"] == i["id"] or (f.get("other") or {}).get("source_id") == i["id"]]
        details = (f'<details><summary>{len(own)} flag{"s" if len(own) != 1 else ""}</summary>'
                   + "".join(render_flag(f, titles) for f in own) + "</details>") if own else "no flags"
        rows.append(f'<tr data-source="{esc(i["id"])}"><td><div class="cc-src-title">{name}</div>'
                    f'<div class="cc-src-id">{esc(Path(i.get("path") or i["id"]).name)}</div></td>'
                    f'<td class="cc-num">{i["passages"]}</td><td class="cc-num">{i["efficacy_claims"]}</td>'
                    f'<td class="cc-num">{i["unsupported_claims"]}</td><td>{dis}</td><td>{details}</td></tr>')
    for name, reason in sorted(skipped.items()):
        rows.append(f'<tr class="cc-skipped"><td><div class="cc-src-title">{esc(name)}</div></td>'
                    f'<td colspan="5">skipped: {esc(reason)}</td></tr>')
    if not rows:
        return '<div class="cc-pane-empty">No sources yet: add .txt, .md or .html articles below.</div>'
    return ('<table class="cc-sources"><thead><tr><th>Article</th><th>Passages</th><th>Efficacy claims</th>'
            '<th>Unsupported</th><th>Disagreements</th><th>Flags</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def conversation_markdown(answers: list[dict]) -> str:
    """A conversation as Markdown: each question, its answer, its citations with exact quotes, its flags."""
    out = ["# Crosscheck conversation", ""]
    for k, a in enumerate(answers, 1):
        out += [f"## {k}. {_flat(a['question'])}", "", a["answer"], ""]
        if a.get("citations"):
            out += ["Citations:", ""]
            for c in a["citations"]:
                out += [f"- [{c['n']}] {c['title']} ({c['source_id']}, characters {c['start']}–{c['end']}): “{_flat(c['quote'])}”"]
            out.append("")
        for f in a.get("flags") or []:
            if f["kind"] == "disagreement" and f.get("other"):
                o = f["other"]
                out.append(f"- ⚠️ Disagreement: {f['source_id']} “{_flat(f['quote'])}” vs {o['source_id']} “{_flat(o['quote'])}” — {f['explanation']}")
            else:
                out.append(f"- ⚠️ Unsupported claim ({f.get('strength') or 'claim'}) in {f['source_id']}: “{_flat(f['quote'])}” — {f['explanation']}")
        if a.get("flags"):
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def message_text(message: dict) -> str:
    """The text of a chat message in either Gradio shape: a string, or a list of content blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    return " ".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type", "text") == "text")


def questions_from_history(history: list[dict]) -> list[str]:
    """Earlier questions of a chat, as the user typed them (the chat shows them escaped)."""
    return [question_text(message_text(m)) for m in history or [] if m.get("role") == "user"]


# --------------------------------------------------------------------------- plain text (the CLI)


def _line(text: str) -> str:
    return " ".join(text.split())


def answer_text(ans) -> str:
    """An answer for a terminal: the text, then each citation with its exact quote and offsets."""
    lines = [ans.answer]
    if ans.citations:
        lines.append("")
        for c in ans.citations:
            lines.append(f"[{c.n}] {c.title} ({c.source_id}, chars {c.start}–{c.end}): “{_line(c.quote)}”")
    return "\n".join(lines) + "\n"


def flag_text(f) -> str:
    """A flag for a terminal: its kind, where, the quote(s) and the explanation."""
    head = "DISAGREEMENT" if f.kind == "disagreement" else f"UNSUPPORTED CLAIM ({f.strength or 'claim'})"
    lines = [f"{head} in {f.source_id} [{f.start}–{f.end}]: “{_line(f.quote)}”"]
    if f.other:
        lines.append(f"  vs {f.other.source_id} [{f.other.start}–{f.other.end}]: “{_line(f.other.quote)}”")
    lines.append(f"  {f.explanation}\n")
    return "\n".join(lines)


def sources_text(infos, skipped: dict[str, str]) -> str:
    """The sources report for a terminal: each source with its counts, then the skipped files and why."""
    out = []
    for i in infos:
        dis = ", ".join(f"{n} with {other}" for other, n in i.disagreements.items()) or "none"
        out.append(f"{i.source.id}  {i.source.title}\n  {i.passages} passages, {i.sentences} sentences; "
                   f"{i.efficacy_claims} efficacy claims, {i.unsupported} unsupported; disagreements: {dis}")
    out += [f"{name}  SKIPPED: {reason}" for name, reason in skipped.items()]
    return "".join(line + "\n" for line in out)


# --------------------------------------------------------------------------- evaluation (crosscheck eval)

_EVAL_COLUMNS = [
    ("topic", ("topic",)), ("cited", ("recall",)), ("out-of-scope abstained", ("oos_abstain",)),
    ("in-scope abstained", ("in_scope_abstained",)), ("answer flag missed", ("answer_flag_missed",)),
    ("follow-ups", ("followups",)),
    ("unsupported R / P (never)", ("unsupported_recall", "unsupported_precision", "unsupported_false")),
    ("outside gold", ("unsupported_outside_gold",)),
    ("disagreements found / P (never)", ("disagree_found", "disagree_precision", "disagree_false")),
    ("bad offsets", ("bad_offsets",)),
    ("seconds index / ask / chat / flags", ("index_s", "batch_s", "chat_s", "flags_s")),
]


def eval_table(rows: list[dict]) -> str:
    """Evaluation rows as a Markdown table, one topic a row."""
    def fmt(key, v):
        if v is None:
            return "—"
        return f"{v:.1f}" if key.endswith("_s") else f"{v:g}" if isinstance(v, float) else str(v)

    def cell(row, keys):
        parts = [fmt(k, row.get(k)) for k in keys]
        if len(keys) == 3:
            return f"{parts[0]} / {parts[1]} ({parts[2]})"
        return " / ".join(parts)

    columns = _EVAL_COLUMNS[:2] + [("baseline top-5", ("baseline_recall",))] + _EVAL_COLUMNS[2:] \
        if any("baseline_recall" in r for r in rows) else _EVAL_COLUMNS
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, keys) for _, keys in columns) + " |" for r in rows]
    return "\n".join(lines)
