"""The ``crosscheck`` command: parses input, calls the library, renders the result. No logic of its own."""

from __future__ import annotations

import functools
import json
import sys

import click

from ..errors import CrosscheckError

_path = click.Path(file_okay=False, path_type=str)
sources_opt = click.option("--sources", type=_path, default=None, help="Folder of articles [env CROSSCHECK_SOURCES; default ./sources].")
index_opt = click.option("--index", type=_path, default=None, help="Index folder [env CROSSCHECK_INDEX; default ./index].")
json_opt = click.option("--json", "as_json", is_flag=True, help="One JSON object per line on stdout.")


def _err(msg: str) -> None:
    click.echo(msg, err=True)


def reports_errors(fn):
    """Turn library errors into one line on stderr and exit code 2; anything else is exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CrosscheckError as exc:
            _err(f"error: {exc}")
            sys.exit(2)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def _open(sources, index):
    from ..api import Crosscheck

    return Crosscheck.open(sources, index, progress=_err)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crosscheck")
def cli():
    """Crosscheck: answers from your articles with exact citations, and warnings where they disagree
    or claim a treatment works without evidence."""


@cli.command()
@sources_opt
@index_opt
@click.option("--rebuild", is_flag=True, help="Throw the index away and build it again from the sources.")
@reports_errors
def index(sources, index, rebuild):
    """Build or update the index from the sources folder."""
    from ..index.build import update_index
    from ..settings import load_settings

    report = update_index(load_settings(sources=sources, index=index), _err, rebuild=rebuild)
    for name, reason in report.skipped.items():
        _err(f"skipped: {reason}")
    _err(report.summary())


@cli.command()
@click.argument("question", required=False)
@sources_opt
@index_opt
@json_opt
@reports_errors
def ask(question, sources, index, as_json):
    """Answer QUESTION, or each line of stdin as its own question."""
    cc = _open(sources, index)
    questions = [question] if question is not None else [line for line in sys.stdin.read().splitlines() if line.strip()]
    failed = _answer_all(cc, questions, as_json, conversation=False)
    sys.exit(2 if failed else 0)


@cli.command()
@sources_opt
@index_opt
@json_opt
@reports_errors
def chat(sources, index, as_json):
    """Hold a conversation: each line of stdin is the next turn; follow-ups see the earlier questions."""
    cc = _open(sources, index)
    interactive = sys.stdin.isatty() and not as_json
    if interactive:
        _err("Ask about your sources (Ctrl-D to quit).")
    lines = (line for line in sys.stdin) if interactive else iter(sys.stdin.read().splitlines())
    failed = _answer_all(cc, (l for l in lines if l.strip()), as_json, conversation=True)
    sys.exit(2 if failed else 0)


def _answer_all(cc, questions, as_json: bool, conversation: bool) -> int:
    history: list[str] = []
    failed = 0
    for q in questions:
        try:
            ans = cc.ask(q, history=history if conversation else [])
        except CrosscheckError as exc:
            _err(f"error: {exc}")
            failed += 1
            continue
        if conversation:
            history.append(q)
        click.echo(json.dumps(ans.to_dict(), ensure_ascii=False) if as_json else render_answer(ans))
    return failed


def render_answer(ans) -> str:
    """An answer for a terminal: the text, then each citation with its exact quote and offsets."""
    lines = [ans.answer]
    if ans.citations:
        lines.append("")
        for c in ans.citations:
            lines.append(f"[{c.n}] {c.title} ({c.source_id}, chars {c.start}–{c.end}): “{' '.join(c.quote.split())}”")
    return "\n".join(lines) + "\n"


@cli.command()
@sources_opt
@index_opt
@json_opt
@reports_errors
def flags(sources, index, as_json):
    """List every flag: unsupported efficacy claims and disagreements between sources."""
    cc = _open(sources, index)
    found = cc.flags()
    if as_json:
        click.echo(json.dumps({"flags": [f.to_dict() for f in found]}, ensure_ascii=False))
        return
    if not found:
        click.echo("No flags.")
    for f in found:
        head = "DISAGREEMENT" if f.kind == "disagreement" else f"UNSUPPORTED CLAIM ({f.strength or 'claim'})"
        click.echo(f"{head} in {f.source_id} [{f.start}–{f.end}]: “{' '.join(f.quote.split())}”")
        if f.other:
            click.echo(f"  vs {f.other.source_id} [{f.other.start}–{f.other.end}]: “{' '.join(f.other.quote.split())}”")
        click.echo(f"  {f.explanation}\n")


@cli.command(name="sources")
@sources_opt
@index_opt
@json_opt
@reports_errors
def sources_cmd(sources, index, as_json):
    """List the indexed sources with their claim and disagreement counts."""
    cc = _open(sources, index)
    infos = cc.sources()
    if as_json:
        click.echo(json.dumps({"sources": [i.to_dict() for i in infos]}, ensure_ascii=False))
        return
    for i in infos:
        dis = ", ".join(f"{n} with {other}" for other, n in i.disagreements.items()) or "none"
        click.echo(f"{i.source.id}  {i.source.title}\n  {i.passages} passages, {i.sentences} sentences; "
                   f"{i.efficacy_claims} efficacy claims, {i.unsupported} unsupported; disagreements: {dis}")
    for name, reason in cc.corpus.skipped.items():
        click.echo(f"{name}  SKIPPED: {reason}")


@cli.command()
@sources_opt
@index_opt
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1/localhost requires CROSSCHECK_AUTH=user:password.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@reports_errors
def serve(sources, index, host, port):
    """Open the browser chat (builds or updates the index first)."""
    from ..settings import load_settings
    from .ui import serve as run

    run(load_settings(sources=sources, index=index), host=host, port=port, progress=_err)


@cli.command()
@click.argument("sentence", required=False)
@json_opt
@reports_errors
def claim(sentence, as_json):
    """Analyse SENTENCE on its own: is it an efficacy claim, how strong, what evidence does it give?
    Without SENTENCE, reads one sentence per line from stdin. The same analysis the index uses."""
    from ..analyse.claims import analyse_many

    sentences = [sentence] if sentence is not None else [l.strip() for l in sys.stdin.read().splitlines() if l.strip()]
    for c in analyse_many(sentences):
        if as_json:
            click.echo(json.dumps(c.to_dict(), ensure_ascii=False))
        elif c.efficacy_claim:
            verdict = "UNSUPPORTED" if c.unsupported else "supported"
            click.echo(f"{verdict} {c.strength or ''} efficacy claim; evidence: {', '.join(c.evidence) or 'none'}\n  {c.explanation}")
        else:
            click.echo("not an efficacy claim")


@cli.command()
@click.argument("a", required=False)
@click.argument("b", required=False)
@json_opt
@reports_errors
def judge(a, b, as_json):
    """Judge whether statement B contradicts, agrees with, or is unrelated to A: the pair judge the
    index uses. Without A and B, reads one tab-separated pair per line from stdin."""
    from ..errors import QuestionError
    from ..analyse.judge import get_judge
    from ..settings import load_settings

    if (a is None) != (b is None):
        raise QuestionError("give two statements (A and B), or none and one tab-separated pair per line on stdin")
    pairs, bad = ([(a, b)], 0) if a is not None else _tab_pairs(sys.stdin.read().splitlines())
    verdicts = get_judge(load_settings().judge).judge_many(pairs) if pairs else []
    for (x, y), v in zip(pairs, verdicts):
        d = {"a": x, "b": y, "label": v.label, "score": v.score}
        click.echo(json.dumps(d, ensure_ascii=False) if as_json else f"{v.label} ({v.score:.2f})")
    sys.exit(2 if bad else 0)


def _tab_pairs(lines: list[str]) -> tuple[list[tuple[str, str]], int]:
    pairs, bad = [], 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            _err(f"error: line {n} is not two statements separated by one tab: fix or remove it")
            bad += 1
            continue
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs, bad


def main() -> None:
    cli(prog_name="crosscheck")


if __name__ == "__main__":
    main()
