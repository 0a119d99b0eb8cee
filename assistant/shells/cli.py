"""The ``crosscheck`` command: parses input, calls the library, renders the result. No logic of its own."""

from __future__ import annotations

import functools
import json
import sys

import click

from . import render
from ..errors import CrosscheckError
from .environment import apply_offline_defaults

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
    from ..api import Crosscheck

    for line in Crosscheck.update(sources, index, progress=_err, rebuild=rebuild).lines():
        _err(line)


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
    ask = cc.conversation().ask if conversation else cc.ask
    failed = 0
    for q in questions:
        try:
            ans = ask(q)
        except CrosscheckError as exc:
            _err(f"error: {exc}")
            failed += 1
            continue
        click.echo(json.dumps(ans.to_dict(), ensure_ascii=False) if as_json else render.answer_text(ans))
    return failed


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
        click.echo(render.flag_text(f))


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
    click.echo(render.sources_text(infos, cc.skipped()), nl=False)


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
    from ..api import Crosscheck

    sentences = [sentence] if sentence is not None else [l.strip() for l in sys.stdin.read().splitlines() if l.strip()]
    for c in Crosscheck.claims(sentences):
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
    from ..api import Crosscheck
    from ..errors import QuestionError

    if (a is None) != (b is None):
        raise QuestionError("give two statements (A and B), or none and one tab-separated pair per line on stdin")
    pairs, bad = ([(a, b)], 0) if a is not None else _tab_pairs(sys.stdin.read().splitlines())
    verdicts = Crosscheck.judge(pairs)
    for (x, y), v in zip(pairs, verdicts):
        d = {"a": x, "b": y, "label": v.label, "score": v.score}
        click.echo(json.dumps(d, ensure_ascii=False) if as_json else f"{v.label} ({v.score:.2f})")
    sys.exit(2 if bad else 0)


@cli.command(name="eval")
@click.argument("gold", required=False, type=click.Path(dir_okay=False, path_type=str))
@click.argument("sources", required=False, type=_path)
@click.option("--all", "all_dir", type=_path, default=None, metavar="DIR",
              help="Score every DIR/*/gold.json against DIR/*/sources: one row per topic and a mean row.")
@click.option("--index", type=_path, default=None, metavar="DIR",
              help="Keep the index here (with --all: one folder per topic inside) [default: a temporary folder].")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout instead of the table.")
@click.option("--baseline", is_flag=True,
              help="Also measure the plain LangChain Chroma dense top-5 (500-character chunks, same model) on the "
                   "same questions [needs pip install -e '.[bench]'].")
@reports_errors
def eval_cmd(gold, sources, all_dir, index, as_json, baseline):
    """Score the articles in SOURCES against GOLD (the topics/*/gold.json format): expected passages cited,
    out-of-scope abstention, follow-ups, unsupported-claim and disagreement recall and precision, exact offsets."""
    from ..api import Crosscheck

    if (all_dir is None) == (gold is None) or (gold is None) != (sources is None):
        raise click.UsageError("give GOLD and SOURCES (a gold.json and its articles folder), or --all DIR, not both")
    if all_dir is not None:
        result = Crosscheck.evaluate_all(all_dir, index, progress=_err, baseline=baseline)
        rows = [Crosscheck.eval_summary(r) for r in result["topics"]] + [result["mean"]]
        sections = result["topics"]
    else:
        result = Crosscheck.evaluate(gold, sources, index, progress=_err, baseline=baseline)
        rows, sections = [Crosscheck.eval_summary(result)], [result]
    failed = [f"{r['topic']} {name}: {r[name]['error']}" for r in sections for name in ("answers", "chat", "flags")
              if r[name].get("ok") is False]
    click.echo(json.dumps(result, ensure_ascii=False) if as_json else render.eval_table(rows))
    for line in failed:
        _err(f"error: {line}")
    sys.exit(2 if failed else 0)


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
    apply_offline_defaults()
    cli(prog_name="crosscheck")


if __name__ == "__main__":
    main()
