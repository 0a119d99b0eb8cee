"""Take docs/screenshot.png: the real app answering a question, its cited passage open in the side pane.

Prefers a question whose answer carries a flag (the README shows one); says on stderr when none does.

    .venv/bin/python scripts/screenshot.py [--sources sources] [--index index] [--out docs/screenshot.png]
                                           [--question "..."]...

Needs /usr/bin/chromium (apt-get install -y chromium); it never downloads a browser.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.shells import ui  # noqa: E402  (after the path tweak, so the checkout's package is used)
from assistant.settings import load_settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pick_question(cc, questions: list[str]) -> tuple[str, bool]:
    """The first question whose answer has a flag, else the first one answered with citations."""
    answered = None
    for q in questions:
        ans = cc.ask(q)
        if ans.flags:
            return q, True
        if answered is None and ans.citations:
            answered = q
    if answered is None:
        sys.exit("none of the questions is answered from these sources: pass --question")
    return answered, False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", default=None)
    p.add_argument("--index", default=None)
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    p.add_argument("--question", action="append", help="questions to try, in order (default: the app's examples)")
    args = p.parse_args()

    from assistant import Crosscheck
    from playwright.sync_api import sync_playwright

    cc = Crosscheck.open(settings=load_settings(sources=args.sources, index=args.index),
                         progress=lambda m: print(m, file=sys.stderr))
    question, flagged = pick_question(cc, args.question or list(ui.EXAMPLES))
    print(f"question: {question!r} ({'with a flag' if flagged else 'NO FLAG in any answer: citations only'})",
          file=sys.stderr)

    demo = ui.build_app(lambda: cc)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
            page.goto(f"http://127.0.0.1:{port}/")
            page.fill("#cc-question textarea", question)
            page.press("#cc-question textarea", "Enter")
            page.wait_for_selector("#cc-chat .cc-answer a.cc-cite", timeout=120_000)
            # Open the flagged quote when there is one: the highlighted passage then shows what the warning is about.
            link = page.locator("#cc-chat .cc-flag a.cc-cite" if flagged else "#cc-chat .cc-answer a.cc-cite").first
            link.click()
            page.wait_for_selector("#cc-pane mark.cc-mark")
            page.wait_for_timeout(300)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            browser.close()
    finally:
        demo.close()
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    main()
