"""Understanding a question: who it is about, when, and what it follows up on.

Questions name people and times in many ways ("What did Xi Jinping say...", "How did Putin
answer...", "in the April 2013 Direct Line", "in 2019"), and transcripts label the same
person differently ("President of Russia Vladimir Putin", "Vladimir Putin", "Putin"). This
module groups speaker labels into people, recognises people and dates in a question, and
spots follow-ups ("And what about gas prices?") that need the conversation so far. It only
reads text; retrieval decides how much each finding counts.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from .dates import MONTHS, RU_MONTH_RE, month_number

# Labels that name a role in the exchange rather than a person.
ROLE_LABELS = {
    "question", "questions", "q", "remark", "remarks", "reply", "response", "answer", "a",
    "the president", "president", "moderator", "interpreter", "translator", "voice", "voices",
    "operator", "unknown", "reporter", "journalist", "audience", "participant", "speaker",
    "comment", "host", "guest", "narrator", "announcer",
    # the role labels of Russian (kremlin.ru) transcripts
    "вопрос", "реплика", "ответ", "ведущий", "ведущая", "модератор", "журналист", "журналистка",
    "корреспондент", "участник", "участница", "переводчик", "голос из зала", "голос", "зала",
}
# Words that start a speech report after a name: "Putin said", "did Medvedev say".
SPEECH_VERBS = re.compile(
    r"^(?:'s\s+)?(?:\w+\s+){0,2}?(?:say|says|said|saying|tell|tells|told|answer|answers|answered|reply|replies|"
    r"replied|respond|responds|responded|explain|explains|explained|describe|describes|described|argue|"
    r"argued|claim|claimed|call|called|mention|mentioned|think|thinks|thought|believe|believes|believed|"
    r"react|reacted|warn|warned|promise|promised|announce|announced|suggest|suggested|propose|proposed|"
    r"ask|asked|admit|admitted|deny|denied|stress|stressed|note|noted|insist|insisted|compare|compared|"
    r"recall|recalled|list|listed|name|named|report|reported|predict|predicted|offer|offered|view|"
    r"views|position|opinion|response|reaction|answer|words|remarks|comment|comments|commented|"
    r"characterise|characterize|characterised|characterized|blame|blamed|praise|praised|criticise|"
    r"criticised|criticize|criticized|acknowledge|acknowledged|assess|assessed|estimate|estimated)\b",
    re.IGNORECASE,
)
SURNAME_PARTICLES = {"van", "von", "der", "den", "de", "da", "di", "du", "la", "le", "al", "el", "bin", "ibn", "dos", "das"}
TITLE_WORDS = {
    "president", "prime", "minister", "mr", "mr.", "mrs", "ms", "dr", "chancellor", "king", "queen",
    "secretary", "governor", "mayor", "general", "ceo", "chairman", "director", "ambassador", "premier",
    "spokesman", "senator", "deputy", "head", "leader", "chief", "professor", "patriarch",
}
# Labels that stand for a speaker the transcript does not name, as machine transcripts label
# turns: "Guest", "Guest 1", "Speaker 2", "Unknown". Not a press transcript's "Question": a
# journalist citing someone ("Biden said ...") is not that person speaking.
ANONYMOUS_LABEL = re.compile(r"(?i)(?:guests?|speaker|participant|interviewee|unknown(?: speaker)?)(?:\s*\d+)?")
# The name before a comma of a label that describes the person after it: one to four
# capitalised words ("Sergei Mironov, Leader of A Just Russia Faction", a caller's "Dmitry, Moscow").
_BARE_NAME = re.compile(r"[A-ZА-ЯЁ][\w’'\-]*(?: (?:(?:van|von|der|de|da|di|du|la|le|al|el|bin) )*[A-ZА-ЯЁ][\w’'\-]*){0,3}")
# A person's name: two to four capitalised words ("Vivek Kaul", "Alexander Van der Bellen").
_FULL_NAME = re.compile(r"(?<![\w’'])[A-Z][a-z]+(?:[ -](?:(?:van|von|der|de|da|di|du|la|le|al|el|bin) )*[A-Z][a-z]+){1,3}(?![\w’'])")
FOLLOW_UP_OPENERS = re.compile(
    r"^(?:and|but|so|also|what about|how about|then|did (?:he|she|they)|was (?:he|she|it)|were they|"
    r"is (?:he|she|it)|does (?:he|she)|why|who else)\b", re.IGNORECASE,
)
PRONOUNS = re.compile(r"\b(?:he|she|they|him|her|them|his|hers|their|it|its|this|that|these|those|there)\b", re.IGNORECASE)
COMMON_WORDS = {
    "may", "will", "march", "said", "long", "black", "white", "young", "new", "good", "best", "bush",
    "brown", "green", "rose", "grant", "hope", "king", "price", "rice", "wood", "mark", "major",
    "the", "and", "president", "minister", "question", "russia", "china", "india", "japan", "france",
    "germany", "korea", "syria", "ukraine", "turkey", "israel", "iran", "america", "europe",
}


_CYRILLIC_INITIALS = re.compile(r"[А-ЯЁ](?: [А-ЯЁ])*")


def _words(text: str) -> list[str]:
    # Latin and Cyrillic names ("В.Путин" gives "В", "Путин": initial, surname)
    return re.findall(r"[A-Za-zÀ-ÿА-Яа-яЁё][\w’'\-]*", text)


def person_name(label: str) -> tuple[str, str | None] | None:
    """(surname, first name) of the person a speaker label names, or None for a role label.

    Labels put titles first and the name last ("President of Russia Vladimir Putin",
    "Csto Secretary General NIKOLAI BORDYUZHA", "Xi Jinping (retranslated)").
    """
    bare = _naming_part(label)
    if not bare or bare.lower() in ROLE_LABELS or re.fullmatch(r"(?i)(speaker|guest|participant)\s*\d+", bare):
        return None
    words = [w for w in _words(bare)]
    if not words:
        return None
    if len(words) >= 2 and _CYRILLIC_INITIALS.fullmatch(" ".join(words[1:])) and len(words[0]) > 1:
        return words[0].lower(), words[1].lower()  # "Путин В.В.": the surname, then initials
    surname = words[-1].strip("’'").lower()
    if len(surname) < 2 or surname in ROLE_LABELS:
        return None
    rest = words[:-1]
    while rest and rest[-1].lower() in SURNAME_PARTICLES:  # "Alexander Van der Bellen"
        surname = f"{rest.pop().lower()} {surname}"
    first = rest[-1].lower() if rest and rest[-1][:1].isupper() else None
    return surname, first


def _naming_part(label: str) -> str:
    """The words of ``label`` that end with the person's name: without remarks in brackets
    ("(retranslated)"), and without a description after a comma that follows the name
    ("Alexei Kudrin, Chairman of the Accounts Chamber", a caller's "Dmitry, Moscow")."""
    bare = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", label)
    head, comma, _ = bare.partition(",")
    if comma and _BARE_NAME.fullmatch(head.strip()) and not set(head.lower().split()) & TITLE_WORDS:
        bare = head
    return " ".join(bare.replace(",", " ").split())


@dataclass
class Person:
    """One person, with every label the corpus uses for them."""

    key: str  # display name, e.g. "Vladimir Putin"
    surname: str
    first_names: set[str] = field(default_factory=set)
    labels: Counter = field(default_factory=Counter)

    @property
    def turns(self) -> int:
        return sum(self.labels.values())


class SpeakerDirectory:
    """The corpus's speakers grouped into people, for matching names in questions and filters."""

    def __init__(self, labels: Iterable[str]):
        counts = Counter(label for label in labels if label)
        by_surname: dict[str, list[str]] = defaultdict(list)
        self.roles: Counter = Counter()
        for label, n in counts.items():
            name = person_name(label)
            if name is None:
                self.roles[label] += n
            else:
                by_surname[name[0]].append(label)
        self.people: list[Person] = []
        for surname, group in by_surname.items():
            # Split a surname shared by different first names ("Dmitry" vs "Alexander" Medvedev);
            # labels with no first name join the largest group.
            firsts: dict[str | None, list[str]] = defaultdict(list)
            for label in group:
                firsts[person_name(label)[1]].append(label)  # type: ignore[index]
            named = {f: ls for f, ls in firsts.items() if f}
            if not named:
                named = {None: firsts[None]}
            elif None in firsts:
                biggest = max(named, key=lambda f: sum(counts[label] for label in named[f]))
                named[biggest] = named[biggest] + firsts[None]
            for first, ls in named.items():
                person = Person(key="", surname=surname, first_names={first} if first else set())
                for label in ls:
                    person.labels[label] = counts[label]
                person.key = _display_name(person)
                self.people.append(person)
        self.people.sort(key=lambda p: -p.turns)
        self._by_surname: dict[str, list[Person]] = defaultdict(list)
        for person in self.people:
            self._by_surname[person.surname].append(person)
        # Role labels a question can name word for word ("Grad E", "PhD A", "Project Manager").
        # Generic roles ("Question", "The President") are never matched: those words occur in
        # questions about anything. (A family of lettered roles named by its word, "the
        # Professor" for "Professor B" and "Professor C", was measured too: mixed, not kept.)
        self._roles: dict[str, Person] = {}
        for label, n in self.roles.items():
            bare = " ".join(label.split())
            if bare.lower() in ROLE_LABELS or not re.fullmatch(r"[A-Za-z][A-Za-z.\-]*(?: [A-Za-z0-9][\w.\-]*)*", bare):
                continue
            self._roles.setdefault(bare.lower(), Person(key=bare, surname=bare.lower())).labels[label] += n

    def labels_for(self, name: str) -> set[str]:
        """Every label of the person (or role) ``name`` refers to; empty if none matches."""
        wanted = " ".join(name.split()).lower()
        exact = {label for p in self.people for label in p.labels if label.lower() == wanted}
        exact |= {label for label in self.roles if label.lower() == wanted}
        found: set[str] = set()
        for person in self.people:
            if person.key.lower() == wanted or any(label.lower() == wanted for label in person.labels):
                found |= set(person.labels)
        if found or exact:
            return found | exact
        parsed = person_name(name)
        if parsed:
            surname, first = parsed
            for person in self._by_surname.get(surname, []):
                if first is None or not person.first_names or first in person.first_names:
                    found |= set(person.labels)
        return found

    def mentioned(self, question: str) -> list[tuple[Person, bool]]:
        """People (and roles) named in ``question``, each with whether the question asks what
        they said."""
        out: list[tuple[Person, bool]] = self._roles_named(question)
        tokens = list(re.finditer(r"[A-ZА-ЯЁ][\w’'\-]*", question))
        for i, m in enumerate(tokens):
            word = m.group().strip("’'")
            if word.endswith(("’s", "'s")):
                word = word[:-2]
            surname = word.lower()
            if surname in COMMON_WORDS or surname in MONTHS or len(surname) < 3:
                continue
            people = self._by_surname.get(surname)
            prefix = question[: m.start()].lower().split()
            for n in (2, 1):  # a surname with particles: "Van der Bellen"
                longer = " ".join(prefix[-n:] + [surname]) if len(prefix) >= n else None
                if longer and longer in self._by_surname:
                    people = self._by_surname[longer]
                    break
            if not people:
                continue
            after = re.match(r" ([A-ZА-ЯЁ][\w’'\-]*)", question[m.end():])
            if after and not m.group().endswith(("’s", "'s")) and after.group(1).lower() not in TITLE_WORDS \
                    and not any(after.group(1).lower() == p.surname.split()[0] for p in people):
                continue  # a first name: "Kirill Serebrennikov" is not Patriarch Kirill
            before = question[: m.start()].split()
            first = before[-1].strip("“\"'(").lower() if before else None
            chosen = [p for p in people if first in p.first_names]
            if not chosen:
                named_first = bool(before) and before[-1][:1].isupper() and first not in TITLE_WORDS and len(before) > 1
                if named_first and any(p.first_names for p in people):
                    continue  # "Alexander Medvedev" is not Dmitry Medvedev
                chosen = people[:1]
            says = _asks_what_said(question, m.start(), m.end())
            for person in chosen:
                if all(person is not p for p, _ in out):
                    out.append((person, says))
        return out

    def unlabelled(self, question: str) -> list[str]:
        """Full names in ``question`` asked about as speakers ("according to Vivek Kaul", "does
        Milan Vaishnav think") that no speaker label names. In machine transcripts such a
        person speaks under an anonymous label ("Guest 1"), so the bot can only prefer those
        turns of the transcripts that mention the name (`core`). The name must be the one
        speaking, not the object of someone else's verb ("did Putin rank Hugo Chavez
        alongside ..." names Chavez but asks what Putin said), so this is stricter than
        `mentioned`'s test."""
        out = []
        for m in _FULL_NAME.finditer(question):
            name = m.group()
            words = name.lower().replace("-", " ").split()
            if m.start() == 0 or set(words) & (COMMON_WORDS | TITLE_WORDS | set(MONTHS)) or self.labels_for(name):
                continue
            if any(self._by_surname.get(w) for w in words[-1:]):
                continue  # a known surname with another first name: `mentioned` decides
            if _speaks(question, m.start(), m.end()) and name not in out:
                out.append(name)
        return out

    def _roles_named(self, question: str) -> list[tuple[Person, bool]]:
        """Role labels named in ``question`` word for word ("What did Grad E say", "the Project
        Manager"), the longest first, each span of the question counted once."""
        out: list[tuple[Person, bool]] = []
        low = question.lower()
        taken: list[tuple[int, int]] = []
        for key in sorted(self._roles, key=len, reverse=True):
            for m in re.finditer(rf"(?<![\w-]){re.escape(key)}(?![\w-])", low):
                if not any(a < m.end() and m.start() < b for a, b in taken):
                    taken.append((m.start(), m.end()))
                    out.append((self._roles[key], _asks_what_said(question, m.start(), m.end())))
                    break
        return out


def _asks_what_said(question: str, start: int, end: int) -> bool:
    """Whether the name at ``question[start:end]`` is asked about as a speaker ("What did X
    say", "How did X answer", "X's view") rather than only mentioned."""
    return bool(SPEECH_VERBS.match(question[end:].strip())) or re.search(
        r"(?:did|does|do|according to|how|has|had|would|will)\s+(?:\w+\s+){0,2}$", question[:start].lower()
    ) is not None


def _speaks(question: str, start: int, end: int) -> bool:
    """Whether the name at ``question[start:end]`` is the one speaking: a speech verb follows it
    ("Vivek Kaul said", "Gyan Prakash tells it"), or it is the subject right after an auxiliary
    or a reporting phrase ("did Ajay Shah explain", "according to Harsha Bhogle")."""
    return bool(SPEECH_VERBS.match(question[end:].strip())) or re.search(
        r"(?:\b(?:did|does|do|has|had|would|will)|according to|\bas)\s+$", question[:start].lower()) is not None


def is_anonymous(label: str) -> bool:
    """Whether a speaker label stands for someone the transcript does not name ("Guest 1")."""
    return bool(ANONYMOUS_LABEL.fullmatch(" ".join(label.split())))


def _display_name(person: Person) -> str:
    best = max(person.labels, key=lambda label: (person_name(label)[1] is not None, person.labels[label]))
    name = person_name(best)
    if name and name[1] and len(name[1]) == 1 and _CYRILLIC_INITIALS.fullmatch(name[1].upper()):
        return f"{name[1].upper()}. {name[0].capitalize()}"  # "В.Путин", "Путин В.В." -> "В. Путин"
    words = _words(_naming_part(best))
    size = len(name[0].split()) + (1 if name and name[1] else 0) if name else 1
    tail = words[-size:]
    return " ".join(w.capitalize() if w.isupper() else w for w in tail)


@dataclass
class DateMention:
    since: str
    until: str
    text: str


_MONTH_NAMES = "|".join(sorted((m for m in MONTHS if len(m) > 3 or m == "may"), key=len, reverse=True))
_MONTH_YEAR = re.compile(rf"\b({_MONTH_NAMES})\.?\s+(\d{{4}})\b", re.IGNORECASE)
# "в июне 2018 года", "июнь 2018", "19 июля 2000 года": a Russian month and its year.
_MONTH_YEAR_RU = re.compile(rf"(?<![^\W\d_])({RU_MONTH_RE})\s+(\d{{4}})(?!\d)", re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d-])((?:19|20)\d{2})(?![\d-]|s\b)")


def find_dates(question: str) -> list[DateMention]:
    """Month-year and year mentions ("April 2013", "in 2019", "в июне 2018 года", "в 2019 году");
    ranges like "2019-2020" are skipped."""
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for m in [*_MONTH_YEAR.finditer(question), *_MONTH_YEAR_RU.finditer(question)]:
        month = month_number(m.group(1))
        year = int(m.group(2))
        import calendar

        last = calendar.monthrange(year, month)[1]
        found.append(DateMention(f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}", m.group()))
        taken.append(m.span())
    for m in _YEAR.finditer(question):
        if any(s <= m.start() < e for s, e in taken):
            continue
        found.append(DateMention(f"{m.group(1)}-01-01", f"{m.group(1)}-12-31", m.group()))
    return found


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on an earlier one ("And what about gas prices?", "Were they ...?")."""
    q = question.strip()
    if FOLLOW_UP_OPENERS.match(q):
        return True
    words = q.split()
    return len(words) <= 12 and bool(PRONOUNS.search(q)) and not re.search(r"\b[A-Z][a-z]{2,}", " ".join(words[1:]))
