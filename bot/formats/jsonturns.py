"""JSON and JSON Lines transcripts, as transcription tools and scripts write them.

Accepted shapes:
- a list of segments ``[{"speaker", "text", "start", "end"}, ...]``, or one segment per line
  (JSONL; a line with metadata keys and no text supplies metadata);
- an object holding that list under ``turns``, ``utterances``, ``monologues``, ``segments``,
  ``audio_segments``, ``results``, ``chunks`` or ``transcripts`` (also one level down, as in
  ``{"results": {"utterances": [...]}}``), with optional ``title``, ``date``, ``place``, ``url``
  at the top or under ``metadata``; Whisper's ``{"text", "segments"}``; rev.ai's
  ``monologues`` whose ``elements`` are joined verbatim; an object with only ``text``.

Within a segment the usual key variants are read: speaker from ``speaker_name``,
``speaker``, ``speaker_label``, ``spk``, ``name`` (numbers become "Speaker 0"); text from
``text``, ``transcript``, ``content``, ``sentence``; start from ``start``, ``start_time``,
``startTime``, ``begin``, ``from``, ``offset``; end from ``end``, ``end_time``, ``endTime``,
``to``, or start plus ``duration``. Times are seconds as numbers or strings ("12.5",
"12.5s", "00:01:02.500", "PT1.5S"), or milliseconds when the key says so (``start_ms``,
``startMs``) or when they plainly exceed the file's stated ``audio_duration``.

Consecutive segments of one speaker merge into one turn (texts joined with one space, each
as given, surrounding whitespace trimmed); a segment without a speaker key continues the
turn before it, one whose speaker is null or empty is nobody's continuation; segments
without any speaker are grouped into turns of useful size as subtitles are (see
webvtt.merge_segments). Invalid JSON raises
ValueError with a one-line reason.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from ..records import ParsedTranscript, TranscriptMeta
from . import Format
from .webvtt import Segment, merge_segments, parse_timestamp, to_iso_date

# Where tools put the segment list, in order of preference: speaker-aware lists first.
CONTAINER_KEYS = (
    "turns", "utterances", "monologues", "segments", "audio_segments", "results", "chunks",
    "transcripts",
)
SPEAKER_KEYS = ("speaker_name", "speakerName", "speaker", "speaker_label", "speakerLabel", "spk", "name")
TEXT_KEYS = ("text", "transcript", "content", "sentence", "utterance")
START_KEYS = (
    "start", "start_time", "startTime", "begin", "from", "offset", "start_ms", "startMs",
    "start_time_ms", "startTimeMs", "begin_ms", "offset_ms", "offsetMs", "start_seconds", "ts",
)
END_KEYS = (
    "end", "end_time", "endTime", "to", "stop", "end_ms", "endMs", "end_time_ms", "endTimeMs",
    "end_seconds", "end_ts", "resultEndTime",
)
DURATION_KEYS = ("duration", "duration_ms", "durationMs")
META_KEYS = {
    "title": ("title", "episode_title"),
    "date": ("date", "recorded_at", "recording_date", "published", "publish_date", "pubdate"),
    "place": ("place", "location"),
    "url": ("url", "link", "source_url"),
}
METADATA_CONTAINERS = ("metadata", "meta", "info")
ISO_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$", re.I)
NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def parse(text: str) -> ParsedTranscript:
    """Parse JSON or JSONL turns into metadata and turns; raise ValueError if it is not that."""
    data = _load(text)
    meta = TranscriptMeta()
    warnings: list[str] = []
    if isinstance(data, _Lines):
        items: list[Any] = []
        for obj in data.objects:
            if isinstance(obj, dict) and _segment_text(obj) is None and _read_meta(obj, meta):
                continue  # a metadata line
            items.append(obj)
        container: Any = items
    else:
        container = data
        if isinstance(data, dict):
            _read_meta(data, meta)
        items = _find_segments(data)  # type: ignore[assignment]
        if items is None:
            if isinstance(data, dict) and _segment_text(data) is not None:
                items = [data]  # {"text": "..."} alone, e.g. Whisper run without segments
            else:
                raise ValueError("no list of turns or segments with text found")
    segments = [seg for seg in (_segment(item) for item in items) if seg is not None]
    if not segments:
        raise ValueError("no turn or segment with text found")
    skipped = len(items) - len(segments)
    if skipped:
        warnings.append(f"{skipped} item(s) without text ignored")
    _fix_milliseconds(container, segments)
    return ParsedTranscript(meta=meta, turns=merge_segments(segments), format="json", warnings=warnings)


class _Lines:
    """The objects of a JSON Lines file (a type of its own so it is not taken for a list)."""

    def __init__(self, objects: list[Any]) -> None:
        self.objects = objects


@lru_cache(maxsize=1)  # sniff and parse load the same text one after the other
def _load(text: str) -> Any:
    text = text.lstrip("\ufeff")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
        objects = []
        for n, line in lines:
            try:
                objects.append(json.loads(line))
            except RecursionError:
                raise ValueError(f"JSON nested too deeply on line {n}") from None
            except json.JSONDecodeError as exc:
                if objects:  # JSON Lines with a broken line: name that line
                    raise ValueError(f"invalid JSON on line {n}: {exc.msg} (column {exc.colno})") from None
                raise ValueError(
                    f"invalid JSON: {whole.msg} at line {whole.lineno}, column {whole.colno}"
                ) from None
        if len(objects) < 2:
            raise ValueError(f"invalid JSON: {whole.msg} at line {whole.lineno}, column {whole.colno}") from None
        return _Lines(objects)


def _find_segments(data: Any, depth: int = 0) -> list[Any] | None:
    """The list of segments in a decoded JSON document, or None."""
    if isinstance(data, list):
        return data if _has_text(data) else None
    if not isinstance(data, dict) or depth > 2:
        return None
    for key in CONTAINER_KEYS:
        value = data.get(key)
        if isinstance(value, list) and _has_text(value):
            return value
        if isinstance(value, dict):
            found = _find_segments(value, depth + 1)
            if found is not None:
                return found
    return None


def _has_text(items: list[Any]) -> bool:
    return any(isinstance(item, str) and item.strip() or isinstance(item, dict) and _segment_text(item)
               for item in items[:50])


def _segment_text(item: dict[str, Any]) -> str | None:
    """A segment's text: a text key, rev.ai elements joined, or the first alternative's."""
    for key in TEXT_KEYS:
        value = item.get(key)
        if isinstance(value, str):
            return value if value.strip() else None
    elements = item.get("elements")
    if isinstance(elements, list):
        joined = "".join(e["value"] for e in elements if isinstance(e, dict) and isinstance(e.get("value"), str))
        return joined if joined.strip() else None
    alternatives = item.get("alternatives")
    if isinstance(alternatives, list) and alternatives and isinstance(alternatives[0], dict):
        return _segment_text(alternatives[0])
    return None


def _segment(item: Any) -> Segment | None:
    if isinstance(item, str):
        return Segment(None, item) if item.strip() else None
    if not isinstance(item, dict):
        return None
    text = _segment_text(item)
    if text is None:
        return None
    start = _time_of(item, START_KEYS)
    end = _time_of(item, END_KEYS)
    stamp = item.get("timestamp")  # Hugging Face pipelines: "timestamp": [start, end]
    if isinstance(stamp, (list, tuple)) and len(stamp) == 2:
        start = start if start is not None else _seconds(stamp[0], 1.0)
        end = end if end is not None else _seconds(stamp[1], 1.0)
    elements = item.get("elements")
    if isinstance(elements, list):  # rev.ai: times live on the elements
        timed = [e for e in elements if isinstance(e, dict) and e.get("ts") is not None]
        if timed and start is None:
            start = _seconds(timed[0].get("ts"), 1.0)
        if timed and end is None:
            end = _seconds(timed[-1].get("end_ts"), 1.0)
    if end is None and start is not None:
        duration = _time_of(item, DURATION_KEYS)
        if duration is not None:
            end = start + duration
    speaker = _speaker(item)
    # "speaker": null (or "") names nobody: the segment is not the previous speaker's.
    unknown = speaker is None and any(key in item for key in SPEAKER_KEYS)
    return Segment(speaker, text, start, end, unknown=unknown)


def _speaker(item: dict[str, Any]) -> str | None:
    for key in SPEAKER_KEYS:
        value = item.get(key)
        if isinstance(value, dict):  # {"speaker": {"id": 1, "name": "Ann"}}
            value = next((value[k] for k in ("name", "label", "id") if value.get(k) not in (None, "")), None)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            return f"Speaker {value:g}"
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return None


def _time_of(item: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if key in item:
            value = _seconds(item[key], 0.001 if _is_ms_key(key) else 1.0)
            if value is not None:
                return value
    return None


def _is_ms_key(key: str) -> bool:
    return key.endswith(("_ms", "Ms", "MS")) or "millis" in key.lower()


def _seconds(value: Any, scale: float) -> float | None:
    """Seconds from a number (times ``scale``) or a time string; None when unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) * scale
    if not isinstance(value, str):
        return None
    value = value.strip()
    if NUMBER.match(value):
        return float(value) * scale
    if value.endswith("s") and NUMBER.match(value[:-1]):  # Google: "12.300s"
        return float(value[:-1])
    m = ISO_DURATION.match(value)
    if m and any(m.groups()):
        hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
        return hours * 3600 + minutes * 60 + seconds
    return parse_timestamp(value)


def _fix_milliseconds(container: Any, segments: list[Segment]) -> None:
    """Scale times to seconds when the file states its length and the times are far past it.

    AssemblyAI, for one, writes "start"/"end" in milliseconds under plain keys, next to an
    "audio_duration" in seconds; nothing else tells the two apart.
    """
    if not isinstance(container, dict):
        return
    duration = container.get("audio_duration", container.get("duration"))
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
        return
    latest = max((s.end or s.start or 0.0 for s in segments), default=0.0)
    if latest > duration * 10 + 10:
        for seg in segments:
            seg.start = seg.start / 1000 if seg.start is not None else None
            seg.end = seg.end / 1000 if seg.end is not None else None


def _read_meta(obj: dict[str, Any], meta: TranscriptMeta) -> bool:
    """Copy title, date, place, url (and language) from ``obj``; True if any was found."""
    found = False
    sources = [obj, *(obj[k] for k in METADATA_CONTAINERS if isinstance(obj.get(k), dict))]
    for source in sources:
        for field, keys in META_KEYS.items():
            for key in keys:
                value = source.get(key)
                if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
                    continue
                if field == "date":
                    iso = to_iso_date(value)
                    if iso is None:
                        meta.extra.setdefault("date_text", str(value))
                        continue
                    value = iso
                if getattr(meta, field) in (None, ""):
                    setattr(meta, field, " ".join(str(value).split()))
                    found = True
                break
        language = source.get("language")
        if isinstance(language, str) and language.strip():
            meta.extra.setdefault("language", language.strip())
    return found


def sniff(text: str) -> bool:
    """JSON (or JSON Lines) whose structure holds transcript segments."""
    if text[:4096].lstrip("\ufeff \t\n\r")[:1] not in ("{", "["):
        return False
    try:
        data = _load(text)
    except ValueError:
        return False
    if isinstance(data, _Lines):
        return any(isinstance(o, dict) and _segment_text(o) is not None for o in data.objects[:50])
    return _find_segments(data) is not None or (isinstance(data, dict) and _segment_text(data) is not None)


FORMAT = Format(name="json", extensions=(".json", ".jsonl"), sniff=sniff, parse=parse)
