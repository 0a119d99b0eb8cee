"""The browser app: a cited chat, the article pane, flag warnings and the sources report. Rendering only.

Everything shown comes from the one door (``Crosscheck.ask``, ``report``, ``passage``, ``add_source``,
``update``) and is turned into HTML by ``render``. No deferred annotations here: gradio reads the event-data
parameters' annotations (``gr.SelectData``, ``gr.LikeData``) as real types.

Feedback (👍/👎 on an answer) is appended as one JSON object per line to ``feedback/feedback.jsonl`` in
the folder that holds the sources folder (``./feedback/`` for ``./sources``; gitignored); a 👎 asks what was
wrong and adds the reply to its record as ``comment``. Exports are written on request into one temporary
folder, emptied of old exports as new ones come and removed when the process exits. The conversation is kept
in the browser's storage, so a reload shows it again.
"""

import atexit
import json
import queue
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

from .render import (
    parse_cite_href, render_answer, render_error, render_question, render_passage, render_sources, conversation_markdown,
    questions_from_history,
)
from ..errors import CrosscheckError, SourceError, SourceExistsError
from ..settings import Settings
from .environment import apply_offline_defaults
from ..text import size_text

EXAMPLES = (
    "Is dry needling the same as acupuncture?",
    "Who developed dry needling?",
    "Is acupuncture safer than dry needling?",
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
UPLOAD_CAP_FACTOR = 10
EXPORT_MAX_AGE_S = 600  # an export older than this was downloaded or abandoned: removed at the next export
PANE_EMPTY = '<div class="cc-pane-empty">Click a citation marker such as <b>[1]</b> to read the passage in its article.</div>'


def feedback_path(settings: Settings) -> Path:
    """Where 👍/👎 feedback is appended: ``feedback/feedback.jsonl`` next to the sources folder."""
    return Path(settings.sources).resolve().parent / "feedback" / "feedback.jsonl"


# --------------------------------------------------------------------------- the app

CSS = """
.cc-answer ul.cc-points { margin: 0 0 .4em 1.1em; padding: 0; }
.cc-answer li { margin: .2em 0; }
a.cc-cite { font-weight: 600; text-decoration: none; padding: 0 .15em; border-radius: 4px;
            background: rgba(37, 99, 235, .12); color: #1d4ed8 !important; cursor: pointer; white-space: nowrap; }
a.cc-cite:hover { background: rgba(37, 99, 235, .25); }
.cc-abstained { border-left: 4px solid #9ca3af; padding: .3em .6em; background: rgba(156, 163, 175, .12); }
.cc-flag { margin: .6em 0 .2em; padding: .5em .7em; border-radius: 6px; }
.cc-disagreement { border: 1px solid #f59e0b; border-left-width: 5px; background: rgba(245, 158, 11, .10); }
.cc-unsupported { border: 1px solid #dc2626; border-left-width: 5px; background: rgba(220, 38, 38, .08); }
.cc-flag-head { font-weight: 700; margin-bottom: .3em; }
.cc-sides { display: flex; gap: .6em; flex-wrap: wrap; }
.cc-sides > .cc-quote { flex: 1 1 12em; }
.cc-quote { margin: .2em 0 !important; padding: .3em .6em !important; border-left: 3px solid rgba(0, 0, 0, .2) !important;
            background: rgba(255, 255, 255, .5); border-radius: 4px; }
.cc-quote-src { font-size: .85em; font-weight: 600; }
.cc-why { font-size: .9em; margin-top: .3em; }
.cc-md { display: none !important; }
.cc-pane-empty { opacity: .7; padding: 1em; }
.cc-article-title { margin: 0 0 .2em; }
.cc-article-meta { font-size: .85em; opacity: .7; margin: .2em 0 .6em; }
.cc-article-text { white-space: pre-wrap; font-size: .92em; line-height: 1.45; max-height: 70vh; overflow-y: auto;
                   border: 1px solid rgba(0, 0, 0, .1); border-radius: 6px; padding: .6em; }
mark.cc-mark { background: #fde047; color: #1c1917; padding: 0 .1em; }
table.cc-sources { width: 100%; border-collapse: collapse; border: none !important; }
table.cc-sources th, table.cc-sources td { text-align: left; vertical-align: top; padding: .4em;
                                          border: none !important; border-bottom: 1px solid rgba(0,0,0,.1) !important; }
table.cc-sources a { padding: 0 !important; }
.cc-num { text-align: right !important; }
.cc-src-id { font-size: .8em; opacity: .7; }
tr.cc-skipped td { color: #b91c1c; }
.cc-strong { border-style: solid; }
.cc-hedged { border-style: dashed; border-left-style: solid; border-color: #f59e0b; background: rgba(245, 158, 11, .06); }
.cc-badge { font-size: .78em; font-weight: 700; padding: .05em .45em; border-radius: 999px; margin-left: .3em;
            text-transform: uppercase; letter-spacing: .03em; }
.cc-badge.cc-strong { background: #b91c1c; color: #fff; }
.cc-badge.cc-hedged { background: transparent; color: #92400e; border: 1px dashed #b45309; }
.cc-against-head { font-size: .85em; font-weight: 600; margin: .4em 0 .1em; }
details.cc-more > summary { cursor: pointer; font-weight: 600; margin: .4em 0; }
.cc-error { border-left: 4px solid #b91c1c; padding: .3em .6em; background: rgba(220, 38, 38, .08); }
#cc-counter { font-size: .85em; text-align: right; min-height: 1.2em; opacity: .8; }
#cc-counter.cc-over { color: #b91c1c; font-weight: 600; opacity: 1; }
/* Gradio dims chat text to 80 % opacity: the links on the tinted flag cards then fall to ~3.7:1. */
#cc-chat .prose.chatbot.md { opacity: 1; }
/* On a phone the Sources table scrolls sideways in its own box; the page does not. */
#cc-sources { overflow-x: auto !important; max-width: 100%; }
"""

# Gradio puts ``.dark`` on <body> (``?__theme=dark`` or the system setting). Explicit colours per mode, each pair
# measured >= 4.5:1 (WCAG AA) by tests/test_ui.py: the highlight keeps dark text on yellow in light mode and turns
# to light text on dark amber in dark mode (the dark theme's text on #fde047 measured 1.2:1).
DARK_CSS = """
.dark a.cc-cite { background: rgba(147, 197, 253, .16); color: #93c5fd !important; }
.dark a.cc-cite:hover { background: rgba(147, 197, 253, .28); }
.dark mark.cc-mark { background: #854d0e; color: #fef9c3; }
.dark .cc-article a, .dark table.cc-sources a { color: #93c5fd !important; }
.dark .cc-quote { background: rgba(0, 0, 0, .28); border-left-color: rgba(255, 255, 255, .35) !important; }
.dark .cc-disagreement { background: rgba(245, 158, 11, .12); }
.dark .cc-unsupported, .dark .cc-error { background: rgba(248, 113, 113, .10); }
.dark .cc-badge.cc-hedged { color: #fcd34d; border-color: #f59e0b; }
.dark .cc-hedged { background: rgba(245, 158, 11, .08); }
.dark tr.cc-skipped td, .dark #cc-counter.cc-over { color: #fca5a5; }
.dark .cc-article-text { border-color: rgba(255, 255, 255, .15); }
.dark table.cc-sources th, .dark table.cc-sources td { border-bottom-color: rgba(255, 255, 255, .15) !important; }
"""

# Runs once in the pane: a click on any citation link (in the chat or in a flag) asks the server for the
# article, puts it in the pane and scrolls its text box to the highlighted passage. The page scrolls too only when
# the passage is still off screen (on a phone the pane sits below the chat).
PANE_JS = """
const reveal = () => {
  const box = element.querySelector('.cc-article-text');
  const mark = element.querySelector('mark.cc-mark');
  if (!box || !mark) return;
  box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - box.clientHeight / 3);
  const r = mark.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight) {
    const calm = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    mark.scrollIntoView({block: 'center', behavior: calm ? 'auto' : 'smooth'});
  }
};
const open = (ev) => {
  const a = ev.target && ev.target.closest ? ev.target.closest('a.cc-cite, a[href*="#cc-cite/"]') : null;
  if (!a) return;
  ev.preventDefault();
  ev.stopPropagation();
  server.passage(a.getAttribute('href') || '').then((html) => {
    // A flag link in the Sources tab opens the pane on the Chat tab.
    const chatTab = [...document.querySelectorAll('button[role="tab"]')].find((t) => t.textContent.trim() === 'Chat');
    if (element.offsetParent === null && chatTab) chatTab.click();
    props.value = html;
    requestAnimationFrame(() => requestAnimationFrame(reveal));
  });
};
if (window.__ccCite) document.removeEventListener('click', window.__ccCite, true);
window.__ccCite = open;
document.addEventListener('click', open, true);
"""


# Runs once too: stops empty or too-long questions at the input (send disabled, Enter ignored, a counter from
# 80 % of the limit), copies an answer as its Markdown (its hidden .cc-md text) instead of its HTML, and gives
# each answer a plain-text accessible label. The question length is counted as the library counts it: white
# space folded.
CHAT_JS = """
const LIMIT = __LIMIT__;
const box = () => document.querySelector('#cc-question textarea');
const size = (t) => t.split(/\\s+/).filter(Boolean).join(' ').length;
const check = () => {
  const t = box();
  if (!t) return;
  const n = size(t.value), bad = n === 0 || n > LIMIT;
  const send = document.querySelector('#cc-question button.submit-button, #cc-question button[type=submit]');
  if (send && send.disabled !== bad) send.disabled = bad;
  let c = document.getElementById('cc-counter');
  if (!c) {
    c = document.createElement('div');
    c.id = 'cc-counter';
    c.setAttribute('aria-live', 'polite');
    document.getElementById('cc-question').after(c);
  }
  const text = n > LIMIT * 0.8 ? `${n.toLocaleString('en')} / ${LIMIT.toLocaleString('en')} characters` +
    (n > LIMIT ? ': too long, shorten the question to send it' : '') : '';
  if (c.textContent !== text) c.textContent = text;
  c.className = n > LIMIT ? 'cc-over' : '';
};
const keys = (ev) => {
  const t = box();
  if (ev.target !== t || ev.key !== 'Enter' || ev.shiftKey) return;
  const n = size(t.value);
  if (n === 0 || n > LIMIT) { ev.preventDefault(); ev.stopImmediatePropagation(); }
};
const copy = (ev) => {
  const b = ev.target && ev.target.closest ? ev.target.closest('#cc-chat button') : null;
  if (!b || !/copy/i.test((b.getAttribute('aria-label') || '') + (b.title || ''))) return;
  // The message's buttons follow its row: the nearest row before them holds the answer.
  let row = b.closest('.message-buttons, .message-row');
  while (row && !row.matches('.message-row')) row = row.previousElementSibling;
  const md = row && row.querySelector('.cc-answer .cc-md');
  if (!md) return;
  ev.preventDefault();
  ev.stopImmediatePropagation();
  navigator.clipboard.writeText(md.textContent);
};
const label = () => {
  document.querySelectorAll('#cc-chat .cc-answer, #cc-chat .cc-error').forEach((a) => {
    const msg = a.closest('[aria-label]');
    const text = "Crosscheck's answer: " + a.innerText.replace(/\\s+/g, ' ').trim();
    if (msg && msg.getAttribute('aria-label') !== text) msg.setAttribute('aria-label', text);
  });
};
for (const [type, fn] of [['input', check], ['keydown', keys], ['click', copy]]) {
  const key = `__cc_${type}`;
  if (window[key]) document.removeEventListener(type, window[key], true);
  window[key] = fn;
  document.addEventListener(type, fn, true);
}
// The textbox is also cleared and the chat redrawn by the server, which fires no input event: re-check often.
if (window.__ccTick) clearInterval(window.__ccTick);
window.__ccTick = setInterval(() => { check(); label(); }, 300);
"""


class _Holder:
    """The open Crosscheck, replaced after a re-index; opened on first use when built from Settings."""

    def __init__(self, factory: Callable[[], object]):
        self._factory = factory
        self._cc = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._cc is None:
                self._cc = self._factory()
            return self._cc

    def set(self, cc) -> None:
        with self._lock:
            self._cc = cc


def _sources_html(cc) -> str:
    report = cc.report()
    return render_sources([i.to_dict() for i in report.sources], [f.to_dict() for f in report.flags],
                          report.skipped)


class _Handlers:
    """The app's event handlers: each calls the library and returns what the page shows."""

    def __init__(self, holder: _Holder):
        self.holder = holder
        self.feedback_lock = threading.Lock()
        self.export_dir = Path(tempfile.mkdtemp(prefix="crosscheck-export-"))
        atexit.register(shutil.rmtree, self.export_dir, ignore_errors=True)

    def ask(self, question: str) -> dict:
        """Answer one question from the sources: the Answer JSON (answer, citations, flags)."""
        import gradio as gr

        try:
            return self.holder.get().ask(question).to_dict()
        except CrosscheckError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def chat(self, message: str, history: list[dict], answers: list[dict]):
        """One chat turn: (textbox, history with the new turn, answers so far, this Answer dict).

        A question the library refuses stays in the textbox, and the reason shows in the conversation as a reply.
        """
        cc = self.holder.get()
        turn = [{"role": "user", "content": render_question(message)}]
        try:
            # The earlier Answers (their subjects resolve "he", "which one"); API callers send only the chat history.
            past = [a for a in answers or [] if a] or questions_from_history(history)
            ans = cc.ask(message, history=past).to_dict()
        except CrosscheckError as exc:
            turn.append({"role": "assistant", "content": render_error(str(exc))})
            return message, list(history or []) + turn, list(answers or []) + [None], None
        turn.append({"role": "assistant", "content": render_answer(ans, cc.titles())})
        return "", list(history or []) + turn, list(answers or []) + [ans], ans

    def from_example(self, data, history: list[dict], answers: list[dict]):
        _, history, answers, _ans = self.chat(data.value["text"], history, answers)
        return history, answers

    def export(self, answers: list[dict]):
        """Write the conversation as Markdown into the export folder (removing old exports): the download."""
        import gradio as gr

        answered = [a for a in answers or [] if a]
        if not answered:
            gr.Info("Nothing to export yet: ask a question first.", duration=3)
            return gr.update(value=None, visible=False)
        cutoff = time.time() - EXPORT_MAX_AGE_S
        for old in self.export_dir.glob("*.md"):
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        path = self.export_dir / f"crosscheck-conversation-{uuid.uuid4().hex[:8]}.md"
        path.write_text(conversation_markdown(answered), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    def like(self, answers: list[dict], data):
        """Save 👍/👎 with the whole answer (assistant messages are every second one); a 👎 asks what was wrong."""
        import gradio as gr

        turn = (data.index[0] if isinstance(data.index, (list, tuple)) else data.index) // 2
        if not answers or turn >= len(answers) or not answers[turn]:
            return gr.skip(), None
        rating = {True: "up", False: "down"}.get(data.liked, str(data.liked))
        record = {"id": uuid.uuid4().hex, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rating": rating,
                  "answer": answers[turn]}
        self._write_feedback(record)
        if rating == "down":
            return gr.update(visible=True), record["id"]
        gr.Info("Thanks: your feedback was saved.", duration=3)
        return gr.update(visible=False), None

    def comment(self, record_id: str | None, text: str):
        """Add what was wrong (the 👎 box's text) to that feedback record; hide the box."""
        import gradio as gr

        if record_id and text.strip():
            self._write_feedback({"comment": text.strip()[:2000]}, record_id)
            gr.Info("Thanks: your comment was saved with your feedback.", duration=3)
        return gr.update(visible=False), None, ""

    def _write_feedback(self, record: dict, into: str | None = None) -> None:
        """Append a record, or merge ``record`` into the one whose id is ``into``."""
        path = feedback_path(self.holder.get().settings)
        with self.feedback_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            if into is None:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
                return
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            rows = [{**r, **record} if r.get("id") == into else r for r in rows]
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    def passage(self, href) -> str:
        """The pane for a clicked citation link (its ``#cc-cite/...`` href; gradio may wrap it in a list)."""
        cc = self.holder.get()
        try:
            source_id, start, end = parse_cite_href(href[0] if isinstance(href, list) else str(href))
        except (ValueError, IndexError):
            return '<div class="cc-pane-empty">That is not a citation link.</div>'
        try:
            view = cc.passage(source_id, start, end)
        except SourceError:
            return '<div class="cc-pane-empty">That passage is no longer in the index: ask again.</div>'
        src = view.source
        return render_passage(view.text, {"id": source_id, "title": src.title, "url": src.url}, start, end)

    def sources(self):
        """The Sources tab: the report table and the article names one can remove."""
        import gradio as gr

        cc = self.holder.get()
        return _sources_html(cc), gr.update(choices=_file_names(cc), value=None)

    def add_sources(self, files: list[str] | None):
        """Validate each upload (bad ones are warned about and skipped), copy the good ones, re-index.

        A different file under a name already in the sources is held back and a confirmation is asked for.
        """
        import gradio as gr

        cc = self.holder.get()
        log: list[str] = []
        held: list[str] = []
        for f in files or []:
            p = Path(f)
            try:
                added = cc.add_source(p)
                log.append(f"{p.name}: {'added' if added else 'already in the sources, unchanged'}")
            except SourceExistsError:
                held.append(str(p))
                log.append(f"{p.name}: a different {p.name} is already in the sources; confirm to replace it")
            except (CrosscheckError, OSError) as exc:
                reason = str(exc) if isinstance(exc, CrosscheckError) else f"{p.name}: {exc.strerror or exc}"
                gr.Warning(f"Not added: {reason}")
                log.append(f"rejected: {reason}")
        if held:
            names = ", ".join(Path(p).name for p in held)
            ask = (f"**Replace {names}** with the uploaded version? The old text's passages, quotes and flags "
                   "leave the index.")
            yield _ui(status="\n".join(log), confirm=ask, pending={"action": "replace", "files": held})
        if any(line.endswith(": added") for line in log):
            yield from self.reindex(log)
        elif not held:
            yield _ui(status="\n".join(log + ["nothing new to index"]), upload=None)

    def ask_remove(self, name: str | None):
        """Ask to confirm removing an article."""
        if not name:
            return _ui(status="Pick an article to remove first.")
        return _ui(confirm=f"**Remove {name}** from the sources? Its file is deleted and its passages, quotes and "
                           "flags leave the index.", pending={"action": "remove", "name": name})

    def confirm(self, pending: dict | None):
        """Do the confirmed removal or replacement, then re-index."""
        import gradio as gr

        cc = self.holder.get()
        pending = pending or {}
        log: list[str] = []
        try:
            if pending.get("action") == "remove":
                cc.remove_source(pending["name"])
                log.append(f"{pending['name']}: removed")
            for f in pending.get("files", []) if pending.get("action") == "replace" else []:
                cc.add_source(Path(f), replace=True)
                log.append(f"{Path(f).name}: replaced")
        except (CrosscheckError, OSError) as exc:
            gr.Warning(str(exc))
            log.append(f"error: {exc}")
        if not log:
            yield _ui(status="Nothing to confirm.", confirm=None)
            return
        yield _ui(confirm=None)
        yield from self.reindex(log)

    def cancel(self):
        """Drop what waited for confirmation."""
        return _ui(status="Cancelled: the sources are as they were.", confirm=None)

    def reindex(self, log: list[str] | None = None):
        """Re-index in a thread, streaming its progress lines; then answer from the new index."""
        import gradio as gr

        log = [*(log or []), "re-indexing…"]
        lines: queue.Queue = queue.Queue()
        outcome: dict = {}
        threading.Thread(target=_reindex_into, args=(self.holder.get().settings, lines, outcome), daemon=True).start()
        yield _ui(status="\n".join(log))
        while (line := lines.get()) is not None:
            log.append(line)
            yield _ui(status="\n".join(log))
        if "error" in outcome:
            exc = outcome["error"]
            msg = str(exc) if isinstance(exc, CrosscheckError) else f"indexing failed: {exc!r}"
            gr.Warning(msg)
            yield _ui(status="\n".join(log + [f"error: {msg}"]))
            return
        self.holder.set(outcome["cc"])
        log += outcome["report"].lines()
        yield _ui(status="\n".join(log), table=_sources_html(outcome["cc"]), upload=None,
                  pick=gr.update(choices=_file_names(outcome["cc"]), value=None))


_UI_FIELDS = ("status", "table", "upload", "confirm_box", "confirm_text", "pending", "pick")


_KEEP = object()


def _ui(*, confirm=_KEEP, pending: dict | None = None, **values) -> tuple:
    """The Sources tab's outputs in ``_UI_FIELDS`` order: given ones set, others left as they are.

    ``confirm``: a question shows the confirmation (``pending`` is what a yes does); None hides it.
    """
    import gradio as gr

    if confirm is not _KEEP:
        values["confirm_box"] = gr.update(visible=confirm is not None)
        values["confirm_text"] = confirm if confirm is not None else gr.skip()
        values["pending"] = pending
    return tuple(values.get(k, gr.skip()) for k in _UI_FIELDS)


def _file_names(cc) -> list[str]:
    """The article files one can remove: indexed ones and skipped ones."""
    return sorted({Path(i.source.path).name for i in cc.sources()} | set(cc.skipped()))


def _reindex_into(settings: Settings, lines: queue.Queue, outcome: dict) -> None:
    """Update the index, then open it; progress lines go to ``lines`` (None last). The old index keeps answering."""
    from ..api import Crosscheck

    try:
        outcome["report"] = Crosscheck.update(settings=settings, progress=lines.put)
        outcome["cc"] = Crosscheck.open(settings=settings, update=False)
    except Exception as exc:  # reported in the page; never a traceback
        outcome["error"] = exc
    finally:
        lines.put(None)


def build_app(cc_factory: Callable[[], object] | Settings, examples: Iterable[str] = EXAMPLES):
    """The Gradio Blocks app over a Crosscheck: pass a zero-argument factory or Settings.

    Endpoints: ``/ask`` (question -> Answer dict) and ``/chat`` (message, history -> "", history, Answer dict).
    Launch it with ``launch`` (theme, CSS and privacy settings are launch options in Gradio 6).
    """
    apply_offline_defaults()  # before gradio's first import: no analytics
    import gradio as gr

    if isinstance(cc_factory, Settings):
        settings = cc_factory

        def cc_factory():
            from ..api import Crosscheck

            return Crosscheck.open(settings=settings, update=False)

    holder = _Holder(cc_factory)
    h = _Handlers(holder)
    private = {"api_visibility": "private"}
    limits = holder.get().settings

    # Gradio finds event-data parameters by their annotations, evaluated here (this module has no deferred ones).
    def from_example(data: gr.SelectData, history: list[dict], answers: list[dict]):
        return h.from_example(data, history, answers)

    def like(answers: list[dict], data: gr.LikeData):
        return h.like(answers, data)

    def passage(href) -> str:  # a plain function: gradio marks server functions with an attribute
        return h.passage(href)

    def remember(history: list[dict], answers: list[dict]) -> dict:
        return {"history": history or [], "answers": answers or []}

    def restore(saved: dict | None):
        saved = saved or {}
        return saved.get("history") or [], saved.get("answers") or []

    with gr.Blocks(title="Crosscheck", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        answers = gr.State([])
        saved = gr.BrowserState({"history": [], "answers": []}, storage_key="crosscheck-conversation")
        gr.Markdown("## Crosscheck\nAnswers from your articles, with the exact passages and warnings where they "
                    "disagree or claim a treatment works without evidence.")
        with gr.Tab("Chat"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label="Conversation", elem_id="cc-chat", height=620, latex_delimiters=[],
                        sanitize_html=True, allow_tags=False, buttons=["copy"],
                        examples=[{"text": q} for q in examples],
                        placeholder="Ask about your sources. Every point cites the passage it comes from.",
                    )
                    with gr.Row(visible=False, elem_id="cc-feedback") as feedback_box:
                        why = gr.Textbox(label="What was wrong with this answer?", max_lines=3, max_length=2000,
                                         scale=4, elem_id="cc-feedback-text")
                        why_send = gr.Button("Send", size="sm", scale=1, elem_id="cc-feedback-send")
                    pending_feedback = gr.State(None)
                    msg = gr.Textbox(placeholder=f"Ask a question about the sources… (up to "
                                                 f"{limits.max_question_chars:,} characters)", show_label=False,
                                     elem_id="cc-question", autofocus=True, submit_btn=True)
                    with gr.Row():
                        export_btn = gr.Button("Export conversation (Markdown)", size="sm", elem_id="cc-export")
                        download = gr.DownloadButton("Download the export", value=None, visible=False, size="sm",
                                                     elem_id="cc-download")
                        clear = gr.Button("New conversation", size="sm")
                    last = gr.JSON(label="Last answer (JSON)", visible=False)
                with gr.Column(scale=2):
                    pane = gr.HTML(PANE_EMPTY, elem_id="cc-pane", container=True, padding=True,
                                   js_on_load=PANE_JS + CHAT_JS.replace("__LIMIT__", str(limits.max_question_chars)),
                                   server_functions=[passage])
        with gr.Tab("Sources") as sources_tab:
            table = gr.HTML("", elem_id="cc-sources")
            upload = gr.File(label=f"Add or replace articles (.txt, .md, .html; up to {size_text(limits.max_file_bytes)} "
                                   "each)", file_count="multiple", file_types=[".txt", ".md", ".html", ".htm"],
                             type="filepath", elem_id="cc-upload")
            with gr.Row():
                add_btn = gr.Button("Add and re-index", variant="primary", elem_id="cc-add")
                reindex_btn = gr.Button("Re-index the sources folder", elem_id="cc-reindex")
            with gr.Row():
                pick = gr.Dropdown([], label="Article", value=None, scale=3, elem_id="cc-pick")
                remove_btn = gr.Button("Remove…", scale=1, elem_id="cc-remove")
            with gr.Group(visible=False, elem_id="cc-confirm") as confirm_box:
                confirm_text = gr.Markdown("")
                with gr.Row():
                    yes = gr.Button("Yes, do it", variant="stop", elem_id="cc-yes")
                    no = gr.Button("Cancel", elem_id="cc-no")
            pending = gr.State(None)
            status = gr.Textbox(label="Indexing", lines=6, max_lines=12, interactive=False, elem_id="cc-status")
        outs = [status, table, upload, confirm_box, confirm_text, pending, pick]

        gr.api(h.ask, api_name="ask")
        msg.submit(h.chat, [msg, chatbot, answers], [msg, chatbot, answers, last], api_name="chat").then(
            remember, [chatbot, answers], [saved], **private)
        chatbot.example_select(from_example, [chatbot, answers], [chatbot, answers], **private).then(
            remember, [chatbot, answers], [saved], **private)
        chatbot.like(like, [answers], [feedback_box, pending_feedback], **private)
        why_send.click(h.comment, [pending_feedback, why], [feedback_box, pending_feedback, why], **private)
        why.submit(h.comment, [pending_feedback, why], [feedback_box, pending_feedback, why], **private)
        export_btn.click(h.export, [answers], [download], **private)
        clear.click(lambda: ([], [], PANE_EMPTY, gr.update(value=None, visible=False), {"history": [], "answers": []}),
                    None, [chatbot, answers, pane, download, saved], **private)
        demo.load(restore, [saved], [chatbot, answers], **private).then(load_model, None, None, **private)
        sources_tab.select(h.sources, None, [table, pick], **private)
        add_btn.click(h.add_sources, [upload], outs, concurrency_id="index", **private)
        reindex_btn.click(h.reindex, None, outs, concurrency_id="index", **private)
        remove_btn.click(h.ask_remove, [pick], outs, **private)
        yes.click(h.confirm, [pending], outs, concurrency_id="index", **private)
        no.click(h.cancel, None, outs, **private)
    demo.crosscheck = holder  # lets tests and scripts reach the open Crosscheck
    demo.crosscheck_handlers = h
    return demo


def _theme():
    import gradio as gr

    # Plain font names only: a GoogleFont would make every page load fetch fonts.googleapis.com.
    return gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``user:pass`` -> (user, pass), or None when unset; raises CrosscheckError when malformed."""
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise CrosscheckError("CROSSCHECK_AUTH must look like user:password (both non-empty)")
    return user, password


def check_exposure(host: str, auth: str | None) -> tuple[str, str] | None:
    """The credentials to require; refuses to listen beyond this machine without them."""
    creds = parse_auth(auth)
    if host not in LOOPBACK and creds is None:
        raise CrosscheckError(
            f"refusing to serve on {host} without a login: anyone on the network could read your sources. "
            "Set CROSSCHECK_AUTH=user:password, or leave --host at 127.0.0.1"
        )
    return creds


def launch(demo, *, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
           max_file_bytes: int = 5_000_000, prevent_thread_lock: bool = False, quiet: bool = False):
    """Start the Gradio server: private (no share link, no analytics, local fonts) and login-protected off loopback."""
    creds = check_exposure(host, auth)
    demo.queue(default_concurrency_limit=2, max_size=64)  # 2 answers at a time (2 cores); at most 64 waiting
    # Gradio's own upload cap words its refusal in its own units ("4.8 Mb" for 5 MB), so it sits well above the
    # app's limit and only stops absurd uploads; the library refuses everything in between, saying "5 MB".
    try:
        return demo.launch(
            server_name=host, server_port=port, auth=creds, share=False, prevent_thread_lock=prevent_thread_lock,
            max_file_size=UPLOAD_CAP_FACTOR * max_file_bytes, theme=_theme(), css=CSS + DARK_CSS, ssr_mode=False, mcp_server=False, pwa=False,
            footer_links=["api"], quiet=quiet, show_error=False,
        )
    except OSError as exc:
        raise CrosscheckError(f"cannot listen on {host}:{port} ({exc}): pass another --port") from exc


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          progress: Callable[[str], None] = lambda _m: None, prevent_thread_lock: bool = False):
    """Build or update the index, then serve the app at http://host:port until interrupted.

    Raises:
        CrosscheckError: listening beyond loopback without credentials, a bad index or sources folder, a busy port.
    """
    from ..api import Crosscheck

    apply_offline_defaults()  # before the index build imports chromadb and the models
    auth = auth if auth is not None else settings.auth
    check_exposure(host, auth)  # refuse before spending time on the index
    cc = Crosscheck.open(settings=settings, progress=progress)
    demo = build_app(lambda: cc)
    launch(demo, host=host, port=port, auth=auth, max_file_bytes=settings.max_file_bytes, prevent_thread_lock=True,
           quiet=True)
    login = " (login required: CROSSCHECK_AUTH)" if parse_auth(auth) else ""
    progress(f"Crosscheck is at http://{'127.0.0.1' if host in LOOPBACK else host}:{port}{login}")
    if not prevent_thread_lock:
        demo.block_thread()
    return demo


def load_model() -> None:
    """Load the embedding model when the first page opens (not before: the page's own assets would then wait for
    the CPU). It loads once, under a lock: a question asked meanwhile waits for it. A failure is left for the
    question itself to report properly."""
    from ..api import Crosscheck

    try:
        Crosscheck.warm_up()
    except Exception:
        pass
