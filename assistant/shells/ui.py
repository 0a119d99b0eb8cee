"""The browser app: a cited chat, the article pane, flag warnings and the sources report. Rendering only.

Everything shown comes from the one door (``Crosscheck.ask``, ``report``, ``passage``, ``add_source``,
``update``) and is turned into HTML by ``render``. No deferred annotations here: gradio reads the event-data
parameters' annotations (``gr.SelectData``, ``gr.LikeData``) as real types.

Feedback (👍/👎 on an answer) is appended as one JSON object per line to ``feedback/feedback.jsonl`` in
the folder that holds the sources folder (``./feedback/`` for ``./sources``; gitignored).
"""

import json
import queue
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

from .render import (
    parse_cite_href, render_answer, render_question, render_passage, render_sources, conversation_markdown, questions_from_history,
)
from ..errors import CrosscheckError, SourceError
from ..settings import Settings, apply_offline_defaults

EXAMPLES = (
    "Is dry needling the same as acupuncture?",
    "Who developed dry needling?",
    "Is acupuncture safer than dry needling?",
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
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
.cc-quote-src { font-size: .85em; font-weight: 600; opacity: .8; }
.cc-why { font-size: .9em; margin-top: .3em; }
.cc-pane-empty { opacity: .7; padding: 1em; }
.cc-article-title { margin: 0 0 .2em; }
.cc-article-meta { font-size: .85em; opacity: .7; margin: .2em 0 .6em; }
.cc-article-text { white-space: pre-wrap; font-size: .92em; line-height: 1.45; max-height: 70vh; overflow-y: auto;
                   border: 1px solid rgba(0, 0, 0, .1); border-radius: 6px; padding: .6em; }
mark.cc-mark { background: #fde047; color: inherit; padding: 0 .1em; }
table.cc-sources { width: 100%; border-collapse: collapse; }
table.cc-sources th, table.cc-sources td { text-align: left; vertical-align: top; padding: .4em;
                                          border: none !important; border-bottom: 1px solid rgba(0,0,0,.1) !important; }
table.cc-sources a { padding: 0 !important; }
.cc-num { text-align: right !important; }
.cc-src-id { font-size: .8em; opacity: .7; }
tr.cc-skipped td { color: #b91c1c; }
"""

# Runs once in the pane: a click on any citation link (in the chat or in a flag) asks the server for the
# article, puts it in the pane and scrolls its text box (not the page) to the highlighted passage.
PANE_JS = """
const reveal = () => {
  const box = element.querySelector('.cc-article-text');
  const mark = element.querySelector('mark.cc-mark');
  if (box && mark) box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - box.clientHeight / 3);
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

    def ask(self, question: str) -> dict:
        """Answer one question from the sources: the Answer JSON (answer, citations, flags)."""
        import gradio as gr

        try:
            return self.holder.get().ask(question).to_dict()
        except CrosscheckError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def chat(self, message: str, history: list[dict], answers: list[dict]):
        """One chat turn: (cleared textbox, history with the new turn, answers so far, this Answer dict)."""
        import gradio as gr

        cc = self.holder.get()
        try:
            ans = cc.ask(message, history=questions_from_history(history)).to_dict()
        except CrosscheckError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        history = list(history or []) + [
            {"role": "user", "content": render_question(message)},
            {"role": "assistant", "content": render_answer(ans, cc.titles())},
        ]
        return "", history, list(answers or []) + [ans], ans

    def from_example(self, data, history: list[dict], answers: list[dict]):
        _, history, answers, _ans = self.chat(data.value["text"], history, answers)
        return history, answers

    def export(self, answers: list[dict]):
        import gradio as gr

        if not answers:
            return gr.update(value=None, interactive=False)
        path = self.export_dir / uuid.uuid4().hex / "crosscheck-conversation.md"
        path.parent.mkdir(parents=True)
        path.write_text(conversation_markdown(answers), encoding="utf-8")
        return gr.update(value=str(path), interactive=True)

    def like(self, answers: list[dict], data) -> None:
        """Append 👍/👎 with the whole answer to the feedback file (assistant messages are every second one)."""
        import gradio as gr

        turn = (data.index[0] if isinstance(data.index, (list, tuple)) else data.index) // 2
        if not answers or turn >= len(answers):
            return
        rating = {True: "up", False: "down"}.get(data.liked, str(data.liked))
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rating": rating, "answer": answers[turn]}
        path = feedback_path(self.holder.get().settings)
        with self.feedback_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        gr.Info(f"Feedback saved to {path}", duration=3)

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

    def sources(self) -> str:
        return _sources_html(self.holder.get())

    def add_sources(self, files: list[str] | None):
        """Validate each upload (bad ones are warned about and skipped), copy the good ones, re-index."""
        import gradio as gr

        cc = self.holder.get()
        log: list[str] = []
        for f in files or []:
            p = Path(f)
            try:
                added = cc.add_source(p)
                log.append(f"{p.name}: {'added' if added else 'already in the sources, unchanged'}")
            except (CrosscheckError, OSError) as exc:
                reason = str(exc) if isinstance(exc, CrosscheckError) else f"{p.name}: {exc.strerror or exc}"
                gr.Warning(f"Not added: {reason}")
                log.append(f"rejected: {reason}")
        yield from self.reindex(log)

    def reindex(self, log: list[str] | None = None):
        """Re-index in a thread, streaming its progress lines; then answer from the new index."""
        import gradio as gr

        log = [*(log or []), "re-indexing…"]
        lines: queue.Queue = queue.Queue()
        outcome: dict = {}
        threading.Thread(target=_reindex_into, args=(self.holder.get().settings, lines, outcome), daemon=True).start()
        yield "\n".join(log), gr.skip(), gr.skip()
        while (line := lines.get()) is not None:
            log.append(line)
            yield "\n".join(log), gr.skip(), gr.skip()
        if "error" in outcome:
            exc = outcome["error"]
            msg = str(exc) if isinstance(exc, CrosscheckError) else f"indexing failed: {exc!r}"
            gr.Warning(msg)
            yield "\n".join(log + [f"error: {msg}"]), gr.skip(), gr.skip()
            return
        self.holder.set(outcome["cc"])
        log += outcome["report"].lines()
        yield "\n".join(log), _sources_html(outcome["cc"]), None


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

    # Gradio finds event-data parameters by their annotations, evaluated here (this module has no deferred ones).
    def from_example(data: gr.SelectData, history: list[dict], answers: list[dict]):
        return h.from_example(data, history, answers)

    def like(answers: list[dict], data: gr.LikeData) -> None:
        return h.like(answers, data)

    def passage(href) -> str:  # a plain function: gradio marks server functions with an attribute
        return h.passage(href)

    with gr.Blocks(title="Crosscheck", analytics_enabled=False) as demo:
        answers = gr.State([])
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
                    msg = gr.Textbox(placeholder="Ask a question about the sources…", show_label=False,
                                     elem_id="cc-question", autofocus=True, submit_btn=True)
                    with gr.Row():
                        download = gr.DownloadButton("Export conversation (Markdown)", value=None,
                                                     interactive=False, size="sm", elem_id="cc-export")
                        clear = gr.Button("New conversation", size="sm")
                    last = gr.JSON(label="Last answer (JSON)", visible=False)
                with gr.Column(scale=2):
                    pane = gr.HTML(PANE_EMPTY, elem_id="cc-pane", js_on_load=PANE_JS, server_functions=[passage],
                                   container=True, padding=True)
        with gr.Tab("Sources") as sources_tab:
            table = gr.HTML("", elem_id="cc-sources")
            limit = holder.get().settings.max_file_bytes / 1e6
            upload = gr.File(label=f"Add articles (.txt, .md, .html; up to {limit:g} MB each)", file_count="multiple",
                             file_types=[".txt", ".md", ".html", ".htm"], type="filepath", elem_id="cc-upload")
            with gr.Row():
                add_btn = gr.Button("Add and re-index", variant="primary", elem_id="cc-add")
                reindex_btn = gr.Button("Re-index the sources folder", elem_id="cc-reindex")
            status = gr.Textbox(label="Indexing", lines=6, max_lines=12, interactive=False, elem_id="cc-status")

        gr.api(h.ask, api_name="ask")
        msg.submit(h.chat, [msg, chatbot, answers], [msg, chatbot, answers, last], api_name="chat").then(
            h.export, [answers], [download], **private)
        chatbot.example_select(from_example, [chatbot, answers], [chatbot, answers], **private).then(
            h.export, [answers], [download], **private)
        chatbot.like(like, [answers], None, **private)
        clear.click(lambda: ([], [], PANE_EMPTY, gr.update(value=None, interactive=False)), None,
                    [chatbot, answers, pane, download], **private)
        demo.load(load_model, None, None, **private)
        sources_tab.select(h.sources, None, [table], **private)
        add_btn.click(h.add_sources, [upload], [status, table, upload], concurrency_id="index", **private)
        reindex_btn.click(h.reindex, None, [status, table, upload], concurrency_id="index", **private)
    demo.crosscheck = holder  # lets tests and scripts reach the open Crosscheck
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
    try:
        return demo.launch(
            server_name=host, server_port=port, auth=creds, share=False, prevent_thread_lock=prevent_thread_lock,
            max_file_size=max_file_bytes, theme=_theme(), css=CSS, ssr_mode=False, mcp_server=False, pwa=False,
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
