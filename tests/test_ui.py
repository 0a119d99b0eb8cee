"""The browser app: pure rendering functions, the real Gradio server through gradio_client, and headless
Chromium through Playwright (ask, open a citation, see the passage highlighted and the flag warning)."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from assistant.ingest import upload
from assistant.shells import render, ui
from assistant.errors import CrosscheckError, SourceError
from assistant.types import Flag, Quote

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
browser_test = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install -y chromium)"),
]

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
HOSTILE = (
    "Kettlebell Notes\n\n"
    'A kettlebell swing trains the hip hinge <img src=x onerror="window.__pwned=1"> with a heavy cast iron bell.\n\n'
    "The kettlebell <script>window.__pwned=1</script> handle should be gripped loosely.\n"
)
DISAGREE_A = ("beta", "Foam rolling is just a kind of stretching, so the two are the same practice.")
DISAGREE_B = ("alpha", "Foam rolling and stretching are related but they are different practices with different goals.")
UNSUPPORTED = ("beta", "Research shows that foam rolling is much better than stretching for recovery.")


def _span(cc, source_id: str, text: str) -> tuple[int, int]:
    start = cc.corpus.raw[source_id].index(text)
    return start, start + len(text)


def _expected_flags(cc) -> list[Flag]:
    """The flags a careful reader finds in the tiny corpus (beta vs alpha; beta's "research shows")."""
    (sa, ea), (sb, eb), (su, eu) = _span(cc, *DISAGREE_A), _span(cc, *DISAGREE_B), _span(cc, *UNSUPPORTED)
    return [
        Flag("disagreement", "beta", DISAGREE_A[1], sa, ea, "One says foam rolling and stretching are the same practice, "
             "the other that they are different practices.", None, Quote("alpha", DISAGREE_B[1], sb, eb)),
        Flag("unsupported_claim", "beta", UNSUPPORTED[1], su, eu, "A comparative efficacy claim with only a vague appeal "
             "to research, no study named.", "strong"),
    ]


@pytest.fixture(scope="module")
def ui_cc(tmp_path_factory):
    """Crosscheck over a copy of the tiny corpus plus one article full of markup that must never run;
    its real flags (beta vs alpha, beta's "research shows") exercise every flag rendering path."""
    from assistant import Crosscheck

    base = tmp_path_factory.mktemp("ui")
    sources = shutil.copytree(DATA / "corpus", base / "sources")
    (sources / "hostile.txt").write_text(HOSTILE, encoding="utf-8")
    cc = Crosscheck.open(sources, base / "index")
    assert {f.kind for f in cc.flags()} == {"disagreement", "unsupported_claim"}
    return cc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(ui_cc):
    """The real app on a free loopback port; yields (url, demo)."""
    demo = ui.build_app(lambda: ui_cc)
    port = _free_port()
    ui.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", demo
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


# --------------------------------------------------------------------------- pure rendering


@pytest.mark.parametrize("source_id", [
    pytest.param("alpha", id="plain"),
    pytest.param("001_8c0709c5b28505ee", id="seed-id"),
    pytest.param("a b/c#d%é", id="needs-quoting"),
])
def test_cite_href_round_trips(source_id):
    href = render.cite_href(source_id, 12, 40)
    assert href.startswith("#cc-cite/") and " " not in href and "#" not in href[1:]
    assert render.parse_cite_href(href) == (source_id, 12, 40)


def test_render_passage_marks_the_span_and_escapes_everything():
    raw = 'Intro <b>bold</b>\nThe cited <img src=x onerror="x()"> part. Rest & more.'
    start = raw.index("The cited")
    end = raw.index(" Rest")
    out = render.render_passage(raw, {"id": "s1", "title": "T <i>", "url": "javascript:alert(1)"}, start, end)
    assert out == (
        '<div class="cc-article"><h3 class="cc-article-title">T &lt;i&gt;</h3>'
        '<div class="cc-article-meta">s1 · characters 18–59</div>'
        '<div class="cc-article-text">Intro &lt;b&gt;bold&lt;/b&gt;\n<mark class="cc-mark">The cited &lt;img src=x '
        'onerror=&quot;x()&quot;&gt; part.</mark> Rest &amp; more.</div></div>'
    )


def test_render_flag_unsupported_shows_quote_why_and_strength_label(ui_cc):
    f = _expected_flags(ui_cc)[1].to_dict()
    start, end = f["start"], f["end"]
    assert render.render_flag(f, {"beta": "Why Foam Rolling Beats Everything"}) == (
        '<div class="cc-flag cc-unsupported cc-strong"><div class="cc-flag-head">⚠️ Unsupported claim '
        '<span class="cc-badge cc-strong">strong claim</span></div>'
        '<blockquote class="cc-quote"><div class="cc-quote-src">Why Foam Rolling Beats Everything</div>'
        f'<div>“{UNSUPPORTED[1]}” <a class="cc-cite" href="#cc-cite/beta/{start}/{end}" '
        'title="Why Foam Rolling Beats Everything">open</a></div></blockquote>'
        '<div class="cc-why">A comparative efficacy claim with only a vague appeal to research, no study named.</div></div>'
    )


def test_render_flag_disagreement_puts_the_cited_statement_first(ui_cc):
    f = _expected_flags(ui_cc)[0].to_dict()
    titles = {sid: s.title for sid, s in ui_cc.corpus.sources.items()}
    cites = [{"n": 2, "source_id": "alpha", "start": f["other"]["start"], "end": f["other"]["end"]}]
    out = render.render_flag(f, titles, cites)
    statement, against = out.split('<div class="cc-against-head">Contradicted by:</div>')
    assert statement.startswith('<div class="cc-flag cc-disagreement"><div class="cc-flag-head">⚠️ The sources '
                                "disagree: 1 source contradicts this</div>")
    assert "Foam Rolling: A Clinic Guide" in statement and f"“{DISAGREE_B[1]}”" in statement and ">[2]</a>" in statement
    assert "Why Foam Rolling Beats Everything" in against and f"“{DISAGREE_A[1]}”" in against and ">open</a>" in against
    assert against.endswith(f'<div class="cc-why">{f["explanation"]}</div></blockquote></div></div>')


def _flag(kind, sid, quote, start, strength=None, other=None, why="why"):
    o = {"source_id": other[0], "quote": other[1], "start": other[2], "end": other[2] + len(other[1])} if other else None
    return {"kind": kind, "source_id": sid, "quote": quote, "start": start, "end": start + len(quote),
            "explanation": why, "strength": strength, "other": o}


def test_group_flags_one_warning_per_statement_strong_first():
    cited = {"n": 1, "source_id": "a", "start": 0, "end": 9}
    flags = [
        _flag("unsupported_claim", "c", "It may help.", 5, "hedged"),
        _flag("disagreement", "b", "Not so.", 3, other=("a", "Statement", 0), why="b differs"),
        _flag("unsupported_claim", "c", "It cures all.", 40, "strong"),
        _flag("disagreement", "a", "Statement", 0, other=("d", "Never.", 7), why="d differs"),
        _flag("disagreement", "e", "Nope.", 1, other=("a", "Statement", 0), why="e differs"),
        _flag("unsupported_claim", "c", "It may help.", 5, "hedged"),
    ]
    groups = render.group_flags(flags, [cited])
    assert [(g["kind"], g["statement"]["source_id"], g["strength"]) for g in groups] == [
        ("disagreement", "a", None), ("unsupported_claim", "c", "strong"), ("unsupported_claim", "c", "hedged")]
    assert [(a["source_id"], a["quote"], a["explanation"]) for a in groups[0]["against"]] == [
        ("b", "Not so.", "b differs"), ("d", "Never.", "d differs"), ("e", "Nope.", "e differs")]


def test_render_warnings_shows_three_and_the_rest_behind_show_all():
    flags = [_flag("unsupported_claim", "c", f"Claim {k}.", 10 * k, "hedged" if k % 2 else "strong") for k in range(5)]
    out = render.render_warnings(flags, {})
    inline, more = out.split('<details class="cc-more"><summary>show all (5)</summary>')
    assert inline.count('class="cc-flag ') == 3 and more.count('class="cc-flag ') == 2
    assert [s.split("“")[1].split("”")[0] for s in out.split("cc-quote-src")[1:]] == [
        "Claim 0.", "Claim 2.", "Claim 4.", "Claim 1.", "Claim 3."]


def test_render_answer_links_markers_and_never_passes_markup_through():
    ans = {
        "question": PAYLOAD, "abstained": False, "flags": [],
        "answer": f"- *Risks <b>:* It is {PAYLOAD} [1]\n- Plain [2] text [2]",
        "citations": [{"n": 1, "source_id": "x", "title": "<T>", "quote": "q", "start": 0, "end": 5},
                      {"n": 2, "source_id": "y", "title": "U", "quote": "q", "start": 3, "end": 9}],
    }
    out = render.render_answer(ans, {})
    md = render.esc(render.answer_markdown(ans)).replace("\n", "&#10;")
    assert out == (
        '<div class="cc-answer"><ul class="cc-points"><li><em>Risks &lt;b&gt;:</em> It is '
        '&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt; '
        '<a class="cc-cite" href="#cc-cite/x/0/5" title="&lt;T&gt;">[1]</a></li>'
        f'<li>Plain [2] text <a class="cc-cite" href="#cc-cite/y/3/9" title="U">[2]</a></li></ul><div class="cc-md">{md}</div></div>'
    )
    assert "<" not in md and render.render_question(PAYLOAD).count("<") == 0


def test_answer_markdown_has_the_citations_quotes_sources_and_offsets():
    ans = {"question": "Q?", "answer": "- Rollers help. [1]", "abstained": False, "flags": [],
           "citations": [{"n": 1, "source_id": "alpha", "title": "Foam", "quote": "Rollers\nhelp.", "start": 4, "end": 18}]}
    assert render.answer_markdown(ans) == (
        "- Rollers help. [1]\n\nCitations:\n\n- [1] Foam (alpha, characters 4–18): “Rollers help.”\n")


def test_render_answer_abstention_is_plain():
    out = render.render_answer({"question": "q", "answer": "The sources don't cover this question.", "abstained": True,
                            "citations": [], "flags": []}, {})
    assert out == ('<div class="cc-answer cc-abstained"><strong>No answer from the sources.</strong> '
                   "The sources don&#x27;t cover this question."
                   '<div class="cc-md">The sources don&#x27;t cover this question.&#10;</div></div>')


def test_answer_with_flags_renders_cards_instead_of_warning_lines(ui_cc):
    ans = ui_cc.ask("Is foam rolling the same as stretching?").to_dict()
    assert any(f["kind"] == "disagreement" for f in ans["flags"]), ans
    out = render.render_answer(ans, {sid: s.title for sid, s in ui_cc.corpus.sources.items()}).split('<div class="cc-md">')[0]
    assert "⚠️ **" not in out and out.count('class="cc-flag ') == len(render.group_flags(ans["flags"], ans["citations"]))
    assert '<div class="cc-flag cc-disagreement">' in out


def test_sources_report_lists_counts_flags_and_skips(ui_cc):
    infos = [i.to_dict() for i in ui_cc.sources()]
    out = render.render_sources(infos, [f.to_dict() for f in ui_cc.flags()], {"bad.txt": "bad.txt is <empty>"})
    beta = out.split('<tr data-source="beta">')[1].split("</tr>")[0]
    info = next(i for i in infos if i["id"] == "beta")
    assert f'<td class="cc-num">{info["efficacy_claims"]}</td><td class="cc-num">{info["unsupported_claims"]}</td>' in beta
    assert " with Foam Rolling: A Clinic Guide" in beta and "<summary>" in beta
    assert '<tr class="cc-skipped"><td><div class="cc-src-title">bad.txt</div></td><td colspan="5">skipped: bad.txt is &lt;empty&gt;</td></tr>' in out


def test_conversation_markdown_has_citations_and_flags(ui_cc):
    f = _expected_flags(ui_cc)[1].to_dict()
    ans = {"question": "Q?", "answer": "- A. [1]", "abstained": False, "flags": [f],
           "citations": [{"n": 1, "source_id": "beta", "title": "T", "quote": "A.\nB", "start": 1, "end": 5}]}
    assert render.conversation_markdown([ans]) == (
        "# Crosscheck conversation\n\n## 1. Q?\n\n- A. [1]\n\nCitations:\n\n"
        "- [1] T (beta, characters 1–5): “A. B”\n\n"
        f"- ⚠️ Unsupported claim (strong) in beta: “{UNSUPPORTED[1]}” — {f['explanation']}\n"
    )


@pytest.mark.parametrize("history,expected", [
    pytest.param([], [], id="empty"),
    pytest.param([{"role": "user", "content": "Who &lt;b&gt;?"}, {"role": "assistant", "content": "<div>x</div>"}],
                 ["Who <b>?"], id="string-content"),
    pytest.param([{"role": "user", "content": [{"type": "text", "text": "What is it?"}]}], ["What is it?"], id="blocks"),
])
def test_questions_from_history(history, expected):
    assert render.questions_from_history(history) == expected


def _upload(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / "upload" / name
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("name,data,message", [
    pytest.param("notes.pdf", b"%PDF-1.4", "notes.pdf is not a .txt, .md or .html file", id="wrong-type"),
    pytest.param("big.txt", b"Words here. " * 20, "big.txt is 240 bytes, over the 200 bytes limit", id="too-large"),
    pytest.param("bin.txt", b"abc\x00def", "bin.txt looks binary", id="binary"),
    pytest.param("latin.txt", "Café au lait.".encode("latin-1"), "latin.txt is not UTF-8", id="not-utf8"),
    pytest.param("empty.md", b"   \n", "empty.md has no text to index", id="empty"),
    pytest.param("alpha.txt", b"Another text about rolling.", "a different alpha.txt is already in the sources: replace it",
                 id="name-taken"),
    pytest.param("..\\..\\win.txt", b"Text.", "..\\..\\win.txt has characters a source file name cannot have (\\)",
                 id="backslashes"),
    pytest.param(".hidden.txt", b"Text.", ".hidden.txt starts with '.'", id="hidden"),
    pytest.param("alpha.md", b"Another text about rolling.", "alpha.md would have the source id 'alpha' of alpha.txt", id="id-taken"),
])
def test_check_upload_rejects_with_a_reason(tmp_path, name, data, message):
    sources = shutil.copytree(DATA / "corpus", tmp_path / "sources")
    with pytest.raises(SourceError) as exc:
        upload.check_upload(_upload(tmp_path, name, data), sources, max_bytes=200)
    assert str(exc.value).startswith(message)


def test_check_upload_accepts_new_and_identical_files(tmp_path):
    sources = shutil.copytree(DATA / "corpus", tmp_path / "sources")
    new = _upload(tmp_path, "delta.md", b"# Delta\n\nFoam rollers come in many densities.\n")
    assert upload.check_upload(new, sources, 10_000) == (sources / "delta.md", False)
    same = _upload(tmp_path, "alpha.txt", (DATA / "corpus" / "alpha.txt").read_bytes())
    assert upload.check_upload(same, sources, 10_000) == (sources / "alpha.txt", True)
    upload.add_file(new, sources / "delta.md")
    assert (sources / "delta.md").read_bytes() == new.read_bytes()
    with pytest.raises(SourceError, match="appeared in the sources"):
        upload.add_file(new, sources / "delta.md")
    assert sorted(p.name for p in sources.iterdir()) == ["alpha.txt", "beta.md", "delta.md", "gamma.html"]


def test_replace_and_remove_a_source(tmp_path):
    sources = shutil.copytree(DATA / "corpus", tmp_path / "sources")
    new = _upload(tmp_path, "alpha.txt", b"Foam rollers are cylinders.\n")
    with pytest.raises(upload.SourceExistsError):
        upload.check_upload(new, sources, 10_000)
    assert upload.check_upload(new, sources, 10_000, replace=True) == (sources / "alpha.txt", False)
    upload.add_file(new, sources / "alpha.txt", replace=True)
    assert (sources / "alpha.txt").read_bytes() == b"Foam rollers are cylinders.\n"
    assert upload.remove_file(sources, "alpha.txt") == sources / "alpha.txt"
    assert sorted(p.name for p in sources.iterdir()) == ["beta.md", "gamma.html"]
    with pytest.raises(SourceError, match="alpha.txt is not in the sources folder"):
        upload.remove_file(sources, "alpha.txt")
    with pytest.raises(SourceError, match="has characters"):
        upload.remove_file(sources, "../beta.md")


def test_size_text_states_the_limit_one_way():
    from assistant.text import size_text

    assert [size_text(n) for n in (5_000_000, 4_800_000, 1_500, 240)] == ["5 MB", "4.8 MB", "1.5 kB", "240 bytes"]


@pytest.mark.parametrize("host,auth,expected", [
    pytest.param("127.0.0.1", None, None, id="loopback-open"),
    pytest.param("localhost", "u:p", ("u", "p"), id="loopback-login"),
    pytest.param("0.0.0.0", "ann:s3:cret", ("ann", "s3:cret"), id="lan-login"),
])
def test_check_exposure(host, auth, expected):
    assert ui.check_exposure(host, auth) == expected


@pytest.mark.parametrize("host,auth,message", [
    pytest.param("0.0.0.0", None, "refusing to serve on 0.0.0.0 without a login", id="lan-open"),
    pytest.param("0.0.0.0", "nopassword", "CROSSCHECK_AUTH must look like user:password", id="malformed"),
    pytest.param("127.0.0.1", "user:", "CROSSCHECK_AUTH must look like user:password", id="empty-password"),
])
def test_check_exposure_refuses(host, auth, message):
    with pytest.raises(CrosscheckError) as exc:
        ui.check_exposure(host, auth)
    assert str(exc.value).startswith(message)


def test_serve_refuses_lan_without_credentials(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k != "CROSSCHECK_AUTH"}
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "--host", "0.0.0.0", "--sources", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("error: refusing to serve on 0.0.0.0 without a login: anyone on the network could read your "
                        "sources. Set CROSSCHECK_AUTH=user:password, or leave --host at 127.0.0.1\n")


def test_serve_has_help():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "assistant", "serve", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "Usage: crosscheck serve" in r.stdout
    help_text = " ".join(r.stdout.split())
    assert "--host TEXT" in help_text and "[default: 127.0.0.1]" in help_text and "[default: 7860;" in help_text


# --------------------------------------------------------------------------- the real server, through gradio_client


def test_api_ask_returns_the_answer_json(client, ui_cc):
    q = "Who popularised foam rolling?"
    got = client.predict(q, api_name="/ask")
    assert got == ui_cc.ask(q).to_dict()
    assert any("It was popularised by sports coaches in the 1980s." in c["quote"] for c in got["citations"])
    for c in got["citations"]:
        path = ui_cc.corpus.sources[c["source_id"]].path
        assert open(path, encoding="utf-8").read()[c["start"]:c["end"]] == c["quote"]


def test_api_ask_reports_bad_questions(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", api_name="/ask")


def test_api_chat_shows_a_refused_question_inline(client, ui_cc):
    kept, history, ans = client.predict("   ", [], api_name="/chat")
    assert kept == "   " and ans is None and [m["role"] for m in history] == ["user", "assistant"]
    assert render.message_text(history[1]) == render.render_error("the question is empty: type a question about the sources")
    assert render.questions_from_history(history) == []


def test_api_chat_follows_up(client, ui_cc):
    first = "What is foam rolling?"
    _, history, ans1 = client.predict(first, [], api_name="/chat")
    assert ans1 == ui_cc.ask(first).to_dict()
    cleared, history, ans2 = client.predict("Who popularised it?", history, api_name="/chat")
    assert cleared == "" and len(history) == 4
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert ans2 == ui_cc.ask("Who popularised it?", history=[first]).to_dict()
    assert ans2["standalone_question"] == "Who popularised foam rolling?"
    assert render.message_text(history[3]) == render.render_answer(ans2, {s: x.title for s, x in ui_cc.corpus.sources.items()})


# --------------------------------------------------------------------------- headless Chromium


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the app that records every URL it requests."""
    context = browser.new_context(viewport={"width": 1400, "height": 950}, accept_downloads=True,
                                  permissions=["clipboard-read", "clipboard-write"])
    pg = context.new_page()
    pg.requested = []
    pg.on("request", lambda r: pg.requested.append(r.url))
    pg.on("websocket", lambda ws: pg.requested.append(ws.url))
    pg.goto(server[0])
    pg.wait_for_selector("#cc-question textarea")
    yield pg
    context.close()


def _ask(pg, question: str, turn: int = 1):
    pg.fill("#cc-question textarea", question)
    pg.press("#cc-question textarea", "Enter")
    pg.wait_for_function("n => document.querySelectorAll('#cc-chat .cc-answer').length >= n", arg=turn, timeout=60_000)
    return pg.locator("#cc-chat .cc-answer").nth(turn - 1)


def _shot(pg, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


@pytest.mark.browser
def test_browser_answer_citation_passage_and_flag(page, ui_cc):
    q = "Is foam rolling the same as stretching?"
    expected = ui_cc.ask(q).to_dict()
    answer = _ask(page, q)
    first = expected["citations"][0]
    answer.locator("a.cc-cite").first.click()
    page.wait_for_selector("#cc-pane mark.cc-mark")
    assert page.inner_text("#cc-pane mark.cc-mark") == first["quote"]
    assert page.inner_text("#cc-pane .cc-article-title") == first["title"]
    from playwright.sync_api import expect

    expect(page.locator("#cc-pane mark.cc-mark")).to_be_in_viewport()
    flag = answer.locator(".cc-flag.cc-disagreement")
    assert flag.is_visible()
    sides = flag.locator(".cc-quote")
    assert sides.count() == 2
    assert {sides.nth(0).locator(".cc-quote-src").inner_text(), sides.nth(1).locator(".cc-quote-src").inner_text()} == {
        "Why Foam Rolling Beats Everything", "Foam Rolling: A Clinic Guide"}
    # The other side of the disagreement opens in the pane too.
    other = next(f["other"]["quote"] for f in expected["flags"] if f["kind"] == "disagreement")
    sides.nth(1).locator("a.cc-cite").click()
    page.wait_for_function("t => document.querySelector('#cc-pane mark.cc-mark').textContent === t", arg=other)
    _shot(page, "chat-citation-flag.png")
    hosts = {urlparse(u).hostname for u in page.requested}
    assert hosts <= {"127.0.0.1", "localhost"}, sorted(u for u in page.requested if urlparse(u).hostname not in ("127.0.0.1", "localhost"))


@pytest.mark.browser
def test_browser_examples_feedback_and_export(page, ui_cc, server):
    examples = page.locator("#cc-chat").get_by_text(ui.EXAMPLES[1], exact=True)
    assert examples.is_visible()
    examples.click()
    page.wait_for_selector("#cc-chat .cc-answer")
    expected = ui_cc.ask(ui.EXAMPLES[1]).to_dict()
    page.locator("#cc-chat button[aria-label='Like']").first.click()
    feedback = ui.feedback_path(ui_cc.settings)
    page.wait_for_function("() => document.body.innerText.includes('Thanks: your feedback was saved.')")
    assert str(feedback.parent) not in page.inner_text("body")
    record = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert record["rating"] == "up" and record["answer"] == expected
    page.locator("#cc-chat button[aria-label='Dislike']").first.click()
    page.wait_for_selector("#cc-feedback-text textarea")
    page.fill("#cc-feedback-text textarea", "It missed the 1980s coaches.")
    page.click("#cc-feedback-send")
    page.wait_for_function("() => document.body.innerText.includes('your comment was saved')")
    record = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert (record["rating"], record["comment"], record["answer"]) == ("down", "It missed the 1980s coaches.", expected)
    export_dir = server[1].crosscheck_handlers.export_dir
    assert list(export_dir.iterdir()) == []  # nothing is written until asked for
    page.click("#cc-export")
    page.wait_for_selector("#cc-download", state="visible")
    with page.expect_download() as dl:
        page.click("#cc-download")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert text == render.conversation_markdown([expected])
    assert [p.read_text(encoding="utf-8") for p in export_dir.iterdir()] == [text]


@pytest.mark.browser
def test_browser_input_guard_copy_label_and_reload(page, ui_cc):
    send = page.locator("#cc-question button.submit-button")
    page.fill("#cc-question textarea", "   ")
    page.wait_for_function("() => document.querySelector('#cc-question button.submit-button').disabled")
    page.press("#cc-question textarea", "Enter")
    page.fill("#cc-question textarea", "x" * 1900)
    page.wait_for_function("() => document.querySelector('#cc-counter').textContent === '1,900 / 2,000 characters'")
    assert send.is_enabled()
    page.fill("#cc-question textarea", "y" * 2001)
    page.wait_for_function("() => document.querySelector('#cc-counter').textContent.startsWith('2,001 / 2,000 characters: too long')")
    assert send.is_disabled()
    page.press("#cc-question textarea", "Enter")
    page.wait_for_timeout(500)
    assert page.locator("#cc-chat .message-row").count() == 0 and page.input_value("#cc-question textarea") == "y" * 2001
    q = "Who popularised foam rolling?"
    expected = ui_cc.ask(q).to_dict()
    answer = _ask(page, q)
    label = answer.locator("xpath=ancestor::*[@aria-label][1]")
    page.wait_for_function("() => document.querySelector('#cc-chat .cc-answer').closest('[aria-label]')"
                           ".getAttribute('aria-label').startsWith(\"Crosscheck's answer: \")")
    assert "<" not in label.get_attribute("aria-label") and "popularised by sports coaches" in label.get_attribute("aria-label")
    page.locator("#cc-chat button[aria-label='Copy message']").last.click()
    page.wait_for_timeout(300)
    assert page.evaluate("navigator.clipboard.readText()") == render.answer_markdown(expected)
    page.reload()
    page.wait_for_selector("#cc-chat .cc-answer")
    assert page.locator("#cc-chat .cc-answer").count() == 1
    assert "popularised by sports coaches" in page.inner_text("#cc-chat .cc-answer")


@pytest.mark.browser
def test_browser_markup_in_sources_and_questions_stays_text(page, ui_cc):
    q = f"What does a kettlebell swing train? {PAYLOAD}"
    answer = _ask(page, q)
    assert page.locator("#cc-chat").get_by_text(PAYLOAD).first.is_visible()
    link = answer.locator("a.cc-cite[href*='hostile']").first
    link.click()
    page.wait_for_selector("#cc-pane mark.cc-mark")
    pane = page.inner_text("#cc-pane .cc-article-text")
    assert '<img src=x onerror="window.__pwned=1">' in pane and "<script>window.__pwned=1</script>" in pane
    assert page.locator("#cc-pane img, #cc-pane script, #cc-chat .cc-answer img, #cc-chat .cc-answer script").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    _shot(page, "safe-rendering.png")


# Each element's text colour and the background colours from it up to the page, as getComputedStyle gives them,
# with the opacity it is drawn at. Python composites them: semi-transparent backgrounds over the first opaque one.
COLOURS_JS = """sel => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length).map(e => {
  const layers = [];
  let opacity = 1;
  for (let n = e; n; n = n.parentElement) {
    const s = getComputedStyle(n);
    opacity *= parseFloat(s.opacity);
    layers.push(s.backgroundColor);
  }
  return {text: e.textContent.trim().slice(0, 40), color: getComputedStyle(e).color, layers, opacity};
})"""

# What must reach WCAG AA (4.5:1) in both modes once a flagged answer is shown and one citation opened.
CONTRAST_TARGETS = {
    "highlight": "#cc-pane mark.cc-mark",
    "citation links": "#cc-chat a.cc-cite",
    "answer text": "#cc-chat .cc-answer li",
    "flag headings": "#cc-chat .cc-flag-head",
    "quote text": "#cc-chat .cc-quote > div",
    "flag explanations": "#cc-chat .cc-why",
    "article text": "#cc-pane .cc-article-text",
    "article link and details": "#cc-pane .cc-article a, #cc-pane .cc-article-meta",
}


def _rgba(css: str) -> tuple[float, float, float, float]:
    """``rgb(r, g, b)`` or ``rgba(r, g, b, a)`` (Chromium's computed form) -> (r, g, b, a), 0-255 and 0-1."""
    parts = [float(x) for x in css[css.index("(") + 1:-1].replace("/", " ").replace(",", " ").split()]
    assert css.startswith("rgb") and len(parts) in (3, 4), f"unexpected computed colour {css!r}"
    return (*parts[:3], parts[3] if len(parts) == 4 else 1.0)


def _over(top, below):
    """``top`` alpha-composited over the opaque colour ``below``."""
    a = top[3]
    return tuple(top[i] * a + below[i] * (1 - a) for i in range(3)) + (1.0,)


def _luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0-255 channels)."""
    lin = [(c / 255 / 12.92) if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(item: dict) -> float:
    """Contrast ratio of an element's text against what is painted behind it."""
    layers = [_rgba(c) for c in item["layers"]]
    opaque = next((i for i, c in enumerate(layers) if c[3] == 1), None)
    assert opaque is not None, f"no opaque background behind {item['text']!r}"
    bg = layers[opaque]
    for layer in reversed(layers[:opaque]):
        bg = _over(layer, bg)
    fg = _rgba(item["color"])
    fg = _over(fg[:3] + (fg[3] * item["opacity"],), bg)
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("pair", [
    pytest.param(("rgb(255, 255, 255)", "rgb(0, 0, 0)", 21.0), id="white-black"),
    pytest.param(("rgb(118, 118, 118)", "rgb(255, 255, 255)", 4.54), id="grey-767676-on-white"),
    pytest.param(("rgb(255, 255, 255)", "rgb(253, 224, 71)", 1.32), id="white-on-yellow"),
    pytest.param(("rgba(0, 0, 0, 0.5)", "rgb(255, 255, 255)", 3.98), id="half-black-on-white"),
])
def test_contrast_ratio_of_computed_colours(pair):
    color, bg, ratio = pair
    assert round(_contrast({"text": "x", "color": color, "layers": ["rgba(0, 0, 0, 0)", bg], "opacity": 1}), 2) == ratio


def _open_flagged_answer(pg) -> None:
    """Ask the question whose answer carries a disagreement card, and open its first citation in the pane."""
    answer = _ask(pg, "Is foam rolling the same as stretching?")
    answer.locator(".cc-flag.cc-disagreement").wait_for()
    answer.locator("a.cc-cite").first.click()
    pg.wait_for_selector("#cc-pane mark.cc-mark")


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_browser_contrast_in_light_and_dark_mode(page, server, mode):
    page.goto(f"{server[0]}?__theme={mode}")
    page.wait_for_selector("#cc-question textarea")
    assert page.evaluate("document.body.classList.contains('dark')") == (mode == "dark")
    _open_flagged_answer(page)
    page.mouse.move(0, 0)  # no hover colours
    ratios = {}
    for name, sel in CONTRAST_TARGETS.items():
        items = page.evaluate(COLOURS_JS, sel)
        assert items, f"nothing matches {sel}"
        ratios[name] = min((_contrast(i), i["text"]) for i in items)
    _shot(page, f"contrast-{mode}.png")
    (ARTIFACTS / f"contrast-{mode}.json").write_text(json.dumps({k: round(r, 2) for k, (r, _t) in ratios.items()}))
    low = {k: (round(r, 2), t) for k, (r, t) in ratios.items() if r < 4.5}
    assert not low, f"below WCAG AA 4.5:1 in {mode} mode: {low}"


@pytest.mark.browser
def test_browser_phone_width_table_scrolls_and_citation_scrolls_into_view(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = context.new_page()
    try:
        pg.goto(server[0])
        pg.wait_for_selector("#cc-question textarea")
        _open_flagged_answer(pg)
        from playwright.sync_api import expect

        expect(pg.locator("#cc-pane mark.cc-mark")).to_be_in_viewport()
        _shot(pg, "phone-citation.png", full_page=False)  # what the screen shows after the tap
        pg.get_by_role("tab", name="Sources").click()
        pg.wait_for_selector("#cc-sources table.cc-sources")
        box = pg.evaluate("() => { const b = document.querySelector('#cc-sources');"
                          " return [b.scrollWidth, b.clientWidth, getComputedStyle(b).overflowX]; }")
        assert box[0] > box[1] and box[2] == "auto", box
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        pg.evaluate("document.querySelector('#cc-sources').scrollLeft = 10000")
        expect(pg.locator("#cc-sources th", has_text="Flags")).to_be_in_viewport()
        _shot(pg, "phone-sources.png")
    finally:
        context.close()


@pytest.mark.browser
def test_browser_sources_tab_upload_and_reindex(page, server, tmp_path):
    """Last on purpose: it re-indexes the server's corpus."""
    sources = Path(server[1].crosscheck.get().settings.sources)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources.iterdir()}
    page.get_by_role("tab", name="Sources").click()
    page.wait_for_selector("#cc-sources table.cc-sources")
    assert page.locator("#cc-sources tr[data-source]").count() == 4
    beta = page.locator("#cc-sources tr[data-source='beta']")
    beta.locator("summary").click()
    quote = beta.locator(".cc-flag .cc-quote").first
    shown = quote.locator("div").nth(1).inner_text().split("“", 1)[1].rsplit("”", 1)[0]
    quote.locator("a.cc-cite").click()  # a flag's quote opens in the Chat tab's pane
    page.wait_for_selector("#cc-pane mark.cc-mark")
    assert " ".join(page.inner_text("#cc-pane mark.cc-mark").split()) == shown
    page.get_by_role("tab", name="Sources").click()
    bad = _upload(tmp_path, "broken.txt", b"\x00\x01binary")
    same = _upload(tmp_path, "beta.md", (sources / "beta.md").read_bytes())
    clash = _upload(tmp_path, "alpha.txt", b"Foam rollers are sold in three lengths.\n")
    good = _upload(tmp_path, "delta.md", b"# Foam Roller Densities\n\nFoam rollers come in soft, medium and firm densities.\n")
    page.set_input_files("#cc-upload input[type=file]", [str(bad), str(same), str(clash), str(good)])
    page.wait_for_selector("#cc-upload td[aria-label='delta.md']")
    page.click("#cc-add")
    page.wait_for_function("() => document.querySelector('#cc-status textarea').value.includes('index:')", timeout=120_000)
    status = page.input_value("#cc-status textarea")
    assert "rejected: broken.txt looks binary" in status
    assert "beta.md: already in the sources, unchanged" in status
    assert "alpha.txt: a different alpha.txt is already in the sources; confirm to replace it" in status
    assert "delta.md: added" in status and "1 added" in status
    assert page.get_by_text("Not added: broken.txt looks binary").first.is_visible()
    page.wait_for_selector("#cc-sources tr[data-source='delta']")
    assert "Foam Roller Densities" in page.inner_text("#cc-sources tr[data-source='delta']")
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources.iterdir()}
    assert {k: v for k, v in after.items() if k != "delta.md"} == before
    _shot(page, "sources-tab.png")
    # The held-back alpha.txt waits for a yes; then it replaces the old text, whose quotes leave the index.
    assert "Replace alpha.txt" in page.inner_text("#cc-confirm")
    old_quote = "It was popularised by sports coaches in the 1980s."
    page.click("#cc-yes")
    page.wait_for_function("() => document.querySelector('#cc-status textarea').value.includes('1 updated')", timeout=120_000)
    assert (sources / "alpha.txt").read_bytes() == clash.read_bytes()
    cc = server[1].crosscheck.get()
    assert cc.corpus.raw["alpha"] == "Foam rollers are sold in three lengths.\n"
    assert all(old_quote not in p.text for p in cc.corpus.passages)
    # Removing asks first, then deletes the file and its passages.
    page.locator("#cc-pick input").click()
    page.get_by_role("option", name="delta.md").click()
    page.click("#cc-remove")
    page.wait_for_selector("#cc-confirm", state="visible")
    assert "Remove delta.md" in page.inner_text("#cc-confirm")
    page.click("#cc-yes")
    page.wait_for_function("() => document.querySelector('#cc-status textarea').value.includes('1 removed')", timeout=120_000)
    assert not (sources / "delta.md").exists() and "delta" not in server[1].crosscheck.get().corpus.sources
    assert page.locator("#cc-sources tr[data-source='delta']").count() == 0
