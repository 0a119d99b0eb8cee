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


def _quote_block(side: dict, titles: dict[str, str], citations: list[dict], why: str = "") -> str:
    """One quoted side of a warning: its source's title, the quote, a link to it ([n] when the answer cites it)."""
    source_id, start, end = side["source_id"], side["start"], side["end"]
    title = titles.get(source_id, source_id)
    c = _citation_for(citations, source_id, start, end)
    label = f"[{c['n']}]" if c else "open"
    note = f'<div class="cc-why">{esc(_flat(why))}</div>' if why else ""
    return (f'<blockquote class="cc-quote"><div class="cc-quote-src">{esc(title)}</div>'
            f"<div>“{esc(_flat(side['quote']))}” {cite_link(label, source_id, start, end, title)}</div>{note}</blockquote>")


def _side(d: dict) -> dict:
    return {k: d[k] for k in ("source_id", "quote", "start", "end")}


def _key(side: dict) -> tuple:
    return side["source_id"], side["start"], side["end"]


def group_flags(flags: list[dict], citations: list[dict] = ()) -> list[dict]:
    """Flags as warnings people read: one per statement, ranked, strongest first.

    A disagreement is filed under the side the answer cites (else its first side), so a statement that several
    sources contradict is one warning listing them all. Each warning: ``kind``, ``statement`` (a quote dict),
    ``strength`` (unsupported claims), ``against`` (the contradicting quotes, each with its ``explanation``) and
    ``explanation``. Order: disagreements and strong claims, then hedged ones, then the rest; more sources first.
    """
    citations = list(citations)
    groups: dict[tuple, dict] = {}
    for f in flags:
        side, other = _side(f), f.get("other")
        if f["kind"] == "disagreement" and other:
            if _citation_for(citations, *_key(other)) and not _citation_for(citations, *_key(side)):
                side, other = _side(other), side
            g = groups.setdefault(("disagreement", *_key(side)), {"kind": "disagreement", "statement": side,
                                                                   "strength": None, "against": [], "explanation": ""})
            if _key(other) not in {_key(a) for a in g["against"]}:
                g["against"].append({**_side(other), "explanation": f.get("explanation") or ""})
        else:
            groups.setdefault((f["kind"], *_key(side)), {"kind": f["kind"], "statement": side, "against": [],
                                                          "strength": f.get("strength"),
                                                          "explanation": f.get("explanation") or ""})
    rank = {"strong": 0, "hedged": 1}
    order = list(groups.values())
    return sorted(order, key=lambda g: (0 if g["kind"] == "disagreement" else 1 + rank.get(g["strength"], 2),
                                        -len(g["against"]), order.index(g)))


def render_warning(group: dict, titles: dict[str, str], citations: list[dict] = ()) -> str:
    """A warning card: a contradicted statement above every source that contradicts it, or an unsupported claim
    with a label saying how strongly it is made."""
    citations = list(citations)
    statement = _quote_block(group["statement"], titles, citations)
    if group["kind"] == "disagreement":
        n = len({a["source_id"] for a in group["against"]})
        head = f"⚠️ The sources disagree: {n} source{'s' if n != 1 else ''} contradict{'s' if n == 1 else ''} this"
        against = "".join(_quote_block(a, titles, citations, a["explanation"]) for a in group["against"])
        return (f'<div class="cc-flag cc-disagreement"><div class="cc-flag-head">{esc(head)}</div>{statement}'
                f'<div class="cc-against-head">Contradicted by:</div><div class="cc-sides">{against}</div></div>')
    strength = group.get("strength")
    badge = f' <span class="cc-badge cc-{esc(strength)}">{esc(strength)} claim</span>' if strength else ""
    kind = f" cc-{esc(strength)}" if strength else ""
    return (f'<div class="cc-flag cc-unsupported{kind}"><div class="cc-flag-head">⚠️ Unsupported claim{badge}</div>'
            + statement + f'<div class="cc-why">{esc(_flat(group["explanation"]))}</div></div>')


def render_flag(flag: dict, titles: dict[str, str], citations: list[dict] = ()) -> str:
    """The card of one flag on its own."""
    return render_warning(group_flags([flag], citations)[0], titles, citations)


def render_warnings(flags: list[dict], titles: dict[str, str], citations: list[dict] = (), inline: int = 3) -> str:
    """The warnings of an answer or a source: the first ``inline`` cards, the rest behind "show all (n)"."""
    groups = group_flags(flags, citations)
    cards = [render_warning(g, titles, citations) for g in groups]
    if len(cards) <= inline:
        return "".join(cards)
    return ("".join(cards[:inline]) + f'<details class="cc-more"><summary>show all ({len(cards)})</summary>'
            + "".join(cards[inline:]) + "</details>")


def _answer_line(line: str, by_n: dict[int, dict]) -> str:
    """One answer bullet: escaped text, the section-heading prefix in italics, its trailing [n] as a link."""
    body = line[2:] if line.startswith("- ") else line
    if head := re.fullmatch(r"\*\*(.+)\*\*", body.strip()):
        return f'<li class="cc-source-head"><strong>{esc(head.group(1))}</strong></li>'
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
    """A chat message for an Answer dict: the cited points, then the grouped warnings; an abstention plainly.

    The answer's own "⚠️" warning lines are replaced by the richer cards built from ``answer["flags"]``. The
    message carries its Markdown (``answer_markdown``) in a hidden ``cc-md`` element, which the copy button puts on
    the clipboard (the chat's sanitizer drops data attributes, so it is text; its newlines are character
    references, since a blank line would end the message's HTML block and start Markdown).
    """
    md = f'<div class="cc-md">{esc(answer_markdown(answer)).replace(chr(10), "&#10;")}</div>'
    read = interpreted(answer)
    if answer.get("abstained"):
        return (f'<div class="cc-answer cc-abstained">{read}<strong>No answer from the sources.</strong> '
                f"{esc(_flat(answer['answer']))}{md}</div>")
    by_n = {c["n"]: c for c in answer.get("citations") or []}
    lines = [l for l in answer["answer"].splitlines() if l.strip()]
    points = [_answer_line(l, by_n) for l in lines if not l.startswith("⚠️")]
    loose = [f'<div class="cc-flag">{esc(_flat(l))}</div>' for l in lines if l.startswith("⚠️")] if not answer.get("flags") else []
    cards = render_warnings(answer.get("flags") or [], titles, list(by_n.values()))
    return (f'<div class="cc-answer">{read}<ul class="cc-points">' + "".join(points) + "</ul>"
            + cards + "".join(loose) + md + "</div>")


def interpreted(answer: dict) -> str:
    """"Interpreted as: …" (small, escaped) when the question was read differently from how it was typed
    (a follow-up made standalone, a misspelling corrected); "" otherwise."""
    read = answer.get("standalone_question")
    if not read or read == answer.get("question"):
        return ""
    return f'<div class="cc-interpreted"><small>Interpreted as: {esc(_flat(read))}</small></div>'


def render_error(message: str) -> str:
    """A chat message for a question the library could not answer: what went wrong and what to do."""
    return f'<div class="cc-error" role="alert"><strong>Not answered:</strong> {esc(_flat(message))}</div>'


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
                   + render_warnings(own, titles, inline=5) + "</details>") if own else "no flags"
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


def answer_markdown(a: dict) -> str:
    """One answer as Markdown: its text, its citations with exact quotes, sources and offsets, its flags."""
    out = [a["answer"], ""]
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
    return "\n".join(out).rstrip() + "\n"


def conversation_markdown(answers: list[dict]) -> str:
    """A conversation as Markdown: each question, its answer, its citations with exact quotes, its flags."""
    out = ["# Crosscheck conversation", ""]
    for k, a in enumerate(answers, 1):
        out += [f"## {k}. {_flat(a['question'])}", "", answer_markdown(a)]
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
    """Earlier questions of a chat, as the user typed them (the chat shows them escaped); unanswered ones left out."""
    history = list(history or [])
    out = []
    for k, m in enumerate(history):
        reply = message_text(history[k + 1]) if k + 1 < len(history) else ""
        if m.get("role") == "user" and 'class="cc-error"' not in reply:
            out.append(question_text(message_text(m)))
    return out


# --------------------------------------------------------------------------- plain text (the CLI)


def _line(text: str) -> str:
    return " ".join(text.split())


def answer_text(ans) -> str:
    """An answer for a terminal: the text, then each citation with its exact quote and offsets."""
    lines = [ans.answer]
    if ans.standalone_question and ans.standalone_question != ans.question:
        lines.insert(0, f"Interpreted as: {_line(ans.standalone_question)}")
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
