"""Measuring retrieval on a question set: the dev-set format or QMSum's.

Dev-set format, one line each: ``{"id", "question", "file", "evidence": [...], "speaker",
"date", "type", "previous"}``; ``file`` is null for a question the corpus cannot answer, and
``previous`` names the question a follow-up continues. A hit is a passage from the gold
transcript whose text contains an evidence string, compared on words so spacing and
punctuation do not matter.

QMSum format (``shared/corpus/qmsum_val/questions.jsonl``): ``{"id", "question", "file",
"domain", "gold_turns", "gold_texts": [...]}``, each gold text the answering span's turns as
``Speaker: text`` paragraphs. Its scoring rule is applied: every gold turn of three or more
words (markers such as ``{vocalsound}`` removed) is an evidence string, and a passage of more
than 400 words never counts (a whole meeting would contain everything). The domain is the
question's type.

Reported: Hit@1/5/10 and MRR@10 over answerable questions, abstention on unanswerable and
answerable questions, the same per question type, and the misses. Also how often the
extractive answer itself quotes the evidence (``answer_quotes``): the share of answerable
questions whose answer has a sentence from the gold transcript that is part of an evidence
string (of five words or more) or contains one. The hits can hold the answer while the
quoted sentences miss it; this is what a reader sees first.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .errors import BotError
from .records import word_count


MAX_HIT_WORDS = 400  # a passage longer than this never counts as a hit (QMSum's rule)
_MARKER = re.compile(r"\{[a-z]+\}")
_LABEL = re.compile(r"^[^:\n]{1,80}:\s")


def words(text: str) -> str:
    """Lowercase letters and digits only, as one space-separated word sequence (Latin and
    Cyrillic letters: Russian evidence is compared on its words too)."""
    return " ".join(re.findall(r"[a-z0-9а-яё]+", _MARKER.sub(" ", text.lower())))


@dataclass
class EvalQuestion:
    id: str
    question: str
    file: str | None
    evidence: list[str]
    type: str
    previous: str | None


def load_questions(path: Path) -> list[EvalQuestion]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BotError(f"cannot read question set {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            if "gold_texts" in q:
                out.append(EvalQuestion(str(q["id"]), q["question"], q["file"], qmsum_evidence(q["gold_texts"]),
                                        q.get("domain") or "other", None))
                continue
            out.append(EvalQuestion(str(q["id"]), q["question"], q.get("file"), q.get("evidence") or [],
                                    q.get("type") or "other", q.get("previous")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BotError(f"{path}:{number}: not a question line ({exc})") from None
    return out


def qmsum_evidence(gold_texts: list[str]) -> list[str]:
    """QMSum gold spans -> their turns' texts (label removed) of three or more words."""
    out = []
    for span in gold_texts:
        for paragraph in span.split("\n\n"):
            text = _LABEL.sub("", paragraph.strip(), count=1)
            if len(words(text).split()) >= 3:
                out.append(text)
    return out


def conversation(q: EvalQuestion, by_id: dict[str, EvalQuestion]) -> list[str]:
    """Earlier questions of ``q``'s conversation, oldest first."""
    chain: list[str] = []
    cur = q
    while cur.previous and cur.previous in by_id and len(chain) < 10:
        cur = by_id[cur.previous]
        chain.insert(0, cur.question)
    return chain


def is_hit(q: EvalQuestion, transcript: str, text: str) -> bool:
    if not q.file or Path(transcript).name != Path(q.file).name:
        return False
    body = words(text)
    if len(body.split()) > MAX_HIT_WORDS:
        return False
    padded = f" {body} "
    return any(words(e) and f" {words(e)} " in padded for e in q.evidence)


QUOTE_MIN_WORDS = 5  # a quoted sentence shorter than this inside a gold turn ("Yes, right.") proves nothing


def quotes_evidence(q: EvalQuestion, hits) -> bool:
    """Whether the answer's quoted sentences (the hits' highlights) include the evidence:
    a highlighted sentence of the gold transcript inside an evidence string (five words or
    more) or containing one."""
    if not q.file:
        return False
    evidence = [f" {words(e)} " for e in q.evidence if words(e)]
    for h in hits:
        if Path(h.passage.transcript).name != Path(q.file).name:
            continue
        for s, e in h.highlights:
            said = words(h.passage.text[s:e])
            if not said:
                continue
            padded = f" {said} "
            if any(ev in padded or (len(said.split()) >= QUOTE_MIN_WORDS and padded in ev) for ev in evidence):
                return True
    return False


def evaluate(bot, questions: Iterable[EvalQuestion], k: int = 10, within_file: bool = False) -> dict[str, Any]:
    """Ask every question through ``bot.ask`` (the real pipeline) and score the results.

    ``within_file``: ask each answerable question within its gold transcript (the transcript
    filter set to the indexed transcripts of that file name), as a user who picked the
    transcript would: it measures ranking inside a transcript apart from finding it."""
    from .core import AskOptions

    questions = list(questions)
    by_id = {q.id: q for q in questions}
    names: dict[str, list[str]] = {}
    if within_file:
        for rel in bot.data.transcript_names:
            names.setdefault(Path(rel).name, []).append(rel)
    rows = []
    latencies = []
    for q in questions:
        chosen = names.get(Path(q.file).name) if within_file and q.file else None
        started = time.perf_counter()
        result = bot.ask(q.question, AskOptions(k=k, context=conversation(q, by_id), transcripts=chosen))
        latencies.append(time.perf_counter() - started)
        rank = next((h.rank for h in result.hits if is_hit(q, h.passage.transcript, h.passage.text)), None)
        rows.append({"id": q.id, "type": q.type, "question": q.question, "answerable": q.file is not None,
                     "rank": rank, "abstained": result.abstained,
                     "answer_quotes": (not result.abstained) and quotes_evidence(q, result.hits),
                     "top": result.hits[0].citation() if result.hits else None,
                     "top_transcript": result.hits[0].passage.transcript if result.hits else None,
                     "top_similarity": round(result.hits[0].similarity, 4) if result.hits else None,
                     "top_words": word_count(result.hits[0].passage.text) if result.hits else None})
    report = summarise(rows, k, latencies)
    report["within_file"] = within_file
    return report


def summarise(rows: list[dict[str, Any]], k: int, latencies: list[float]) -> dict[str, Any]:
    def block(subset: list[dict[str, Any]]) -> dict[str, Any]:
        answerable = [r for r in subset if r["answerable"]]
        unanswerable = [r for r in subset if not r["answerable"]]
        n = len(answerable)
        out: dict[str, Any] = {"questions": len(subset), "answerable": n}
        if n:
            for cut in (1, 5, 10):
                if cut <= k:
                    out[f"hit@{cut}"] = round(sum(1 for r in answerable if r["rank"] and r["rank"] <= cut) / n, 3)
            out["mrr@10"] = round(sum(1 / r["rank"] for r in answerable if r["rank"] and r["rank"] <= 10) / n, 3)
            out["false_abstentions"] = sum(1 for r in answerable if r["abstained"])
            out["answer_quotes"] = round(sum(1 for r in answerable if r.get("answer_quotes")) / n, 3)
        if unanswerable:
            out["unanswerable"] = len(unanswerable)
            out["abstained_unanswerable"] = sum(1 for r in unanswerable if r["abstained"])
        return out

    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(r)
    lat = sorted(latencies)
    return {
        "k": k,
        "overall": block(rows),
        "by_type": {t: block(rs) for t, rs in sorted(by_type.items())},
        "latency_ms": {"p50": round(1000 * lat[len(lat) // 2], 1), "p95": round(1000 * lat[int(len(lat) * 0.95) - 1], 1)} if lat else {},
        "misses": [r for r in rows if (r["answerable"] and (not r["rank"] or r["rank"] > 5)) or (not r["answerable"] and not r["abstained"])],
        "rows": rows,
    }


def format_report(report: dict[str, Any]) -> str:
    o = report["overall"]
    cols = ["hit@1", "hit@5", "hit@10", "mrr@10", "answer_quotes"]
    shown = {"answer_quotes": "quotes"}
    lines = [f"{'type':<14}{'n':>4}" + "".join(f"{shown.get(c, c):>9}" for c in cols) + f"{'abst(ans)':>11}{'abst(unans)':>13}"]
    if report.get("within_file"):
        lines.insert(0, "each question asked within its gold transcript (--within-file)")

    def row(name: str, b: dict[str, Any]) -> str:
        vals = "".join(f"{b.get(c, float('nan')):>9.3f}" if c in b else f"{'-':>9}" for c in cols)
        una = f"{b['abstained_unanswerable']}/{b['unanswerable']}" if "unanswerable" in b else "-"
        return f"{name:<14}{b['questions']:>4}{vals}{b.get('false_abstentions', '-'):>11}{una:>13}"

    lines.append(row("ALL", o))
    for t, b in report["by_type"].items():
        lines.append(row(t, b))
    if report.get("latency_ms"):
        lines.append(f"latency per question: p50 {report['latency_ms']['p50']} ms, p95 {report['latency_ms']['p95']} ms")
    if report["misses"]:
        lines.append("misses (answer not in top 5, or unanswerable not abstained):")
        for m in report["misses"]:
            lines.append(f"  {m['id']} [{m['type']}] rank={m['rank']} abstained={m['abstained']} sim={m['top_similarity']}: {m['question']}")
    return "\n".join(lines)
