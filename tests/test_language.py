"""Language detection (bot/language.py): the real detector, short texts safe."""

import pytest

from bot.language import UNDETERMINED, detect, script_of


@pytest.mark.parametrize("text, code", [
    ("Что Путин сказал о железной дороге в Европу?", "ru"),
    ("What did Putin say about the railway to Europe?", "en"),
    ("Was hat Putin über die Eisenbahn nach Europa gesagt?", "de"),
    ("Quelle est la position de la Russie sur l'Ukraine aujourd'hui ?", "fr"),
    ("習近平主席は何と言いましたか", "ja"),
    ("习近平说了什么关于铁路的话", "zh"),
])
def test_detects_the_language_of_a_question(text, code):
    assert detect(text).code == code


@pytest.mark.parametrize("text", ["Putin on Ukraine", "Dzhokhar Dudayev", "ok", "Sochi 2014"])
def test_short_latin_text_counts_as_english(text):
    assert detect(text).code == "en"


def test_cyrillic_is_never_english():
    assert detect("Путин").code in ("ru", "uk", "be", "bg", "sr", "kk")
    assert script_of("В.Путин: Добрый день!") == "CYRILLIC"


def test_nothing_to_judge_is_undetermined():
    assert detect("").code == UNDETERMINED
    assert detect("12:30 -- ?!").code == UNDETERMINED
