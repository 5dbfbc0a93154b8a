"""Answer validation: levels, points, criteria and quoted evidence."""

from __future__ import annotations

import json

import pytest

from gradebot_cli.grading.validate import (
    MalformedAnswer,
    normalize_for_quotes,
    parse_answer,
    quote_occurs,
    validate_answer,
)
from gradebot_cli.rubric import load_rubric
from tests.conftest import EXAMPLE
from tests.support.grading import grade_answer, lowest_level

RUBRIC = load_rubric(EXAMPLE / "rubric.toml")
TEXT = "Dear board,\nI think we “should” keep   the five-day week. Kids get tired.\n"


def answer(**changes: object) -> dict[str, object]:
    data = grade_answer(RUBRIC, TEXT, lowest_level, quote="Kids get tired.")
    data.update(changes)
    return data


def test_valid_answer_passes() -> None:
    result = validate_answer(answer(), RUBRIC, TEXT, quotes_required=True)
    assert result.ok
    assert result.grade is not None
    assert result.grade.total == 2


def test_level_outside_rubric() -> None:
    data = answer()
    data["criteria"]["position"]["level"] = "Excellent"  # type: ignore[index]
    result = validate_answer(data, RUBRIC, TEXT, quotes_required=True)
    assert not result.ok
    assert "level 'Excellent' is not in the rubric" in result.problems[0]


def test_points_must_match_level() -> None:
    data = answer()
    data["criteria"]["position"]["points"] = 4  # type: ignore[index]
    result = validate_answer(data, RUBRIC, TEXT, quotes_required=True)
    assert "worth 1 points, not 4" in result.problems[0]


def test_missing_and_unknown_criteria() -> None:
    data = answer()
    criteria = data["criteria"]
    criteria["style"] = criteria.pop("reasons")  # type: ignore[union-attr]
    result = validate_answer(data, RUBRIC, TEXT, quotes_required=True)
    assert any("unknown criteria ['style']" in p for p in result.problems)
    assert any("criterion 'reasons' is missing" in p for p in result.problems)


def test_invented_quote_rejected() -> None:
    data = answer()
    data["criteria"]["reasons"]["evidence"] = ["Computers are great"]  # type: ignore[index]
    result = validate_answer(data, RUBRIC, TEXT, quotes_required=True)
    assert (
        "evidence not found in the submission: 'Computers are great'"
        in result.problems[0]
    )


def test_quote_needed_for_text() -> None:
    data = answer()
    data["criteria"]["reasons"]["evidence"] = []  # type: ignore[index]
    result = validate_answer(data, RUBRIC, TEXT, quotes_required=True)
    assert "quote at least one passage" in result.problems[0]


def test_quotes_unchecked_for_images() -> None:
    data = answer()
    data["criteria"]["reasons"]["evidence"] = ["a drawing of a bus"]  # type: ignore[index]
    assert validate_answer(data, RUBRIC, "", quotes_required=False).ok


@pytest.mark.parametrize(
    "quote",
    [
        'we "should" keep the five-day week',  # straight quotes for curly ones
        "keep the five-day\nweek",  # line break for spaces
        "I think we ... Kids get tired.",  # an ellipsis skips words
        "“I think we “should” keep”",  # the quote wrapped in quotation marks
    ],
)
def test_quote_normalisation(quote: str) -> None:
    assert quote_occurs(quote, normalize_for_quotes(TEXT))


def test_quote_parts_must_be_in_order() -> None:
    assert not quote_occurs("Kids get tired ... Dear board", normalize_for_quotes(TEXT))


def test_non_ascii_quote() -> None:
    text = "Zoë wrote: 学校は大切です 😀 — ¡Sí!"
    assert quote_occurs("学校は大切です 😀", normalize_for_quotes(text))


def test_duplicate_keys_are_malformed() -> None:
    with pytest.raises(MalformedAnswer, match="appears twice"):
        parse_answer('{"criteria": {}, "criteria": {}}')


def test_non_json_is_malformed() -> None:
    with pytest.raises(MalformedAnswer, match="not valid JSON"):
        parse_answer('{"criteria": ')


def test_array_is_malformed() -> None:
    with pytest.raises(MalformedAnswer, match="not an object"):
        parse_answer(json.dumps([1, 2]))


def test_empty_feedback_rejected() -> None:
    result = validate_answer(
        answer(overall_feedback="  "), RUBRIC, TEXT, quotes_required=True
    )
    assert "'overall_feedback' must be non-empty text" in result.problems
