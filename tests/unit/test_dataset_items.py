"""The one check of a golden-dataset item (schemas.dataset_items), shared by the API and importers."""

from __future__ import annotations

import pytest

from schemas.dataset_items import DatasetItem, ItemError, check_name, parse_changes, parse_items

GOOD = {"input": "What is 2+2?", "expected": "4",
        "assertions": {"must_contain": ["4"], "must_not_contain": ["5"], "regex": r"^\d+$",
                       "json_schema": {"type": "object", "required": ["answer"]}},
        "metadata": {"topic": "math"}}


def test_a_full_item_and_a_chat_item_are_accepted_as_given() -> None:
    chat = {"input": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
    full, messages = parse_items([GOOD, chat])
    assert full == DatasetItem(input="What is 2+2?", expected="4", assertions=GOOD["assertions"],
                               metadata={"topic": "math"})
    assert messages.input == chat["input"] and messages.expected is None and messages.assertions == {}


@pytest.mark.parametrize(("bad", "words"), [
    ({"expected": "4"}, "item 1: input is required"),
    ({"input": ""}, "item 1: input is required"),
    ({"input": 4}, "item 1: input must be a text or a list of messages"),
    ({"input": [{"role": "user"}]}, "item 1: input[0] must be an object with exactly role and content"),
    ({"input": [{"role": "user", "content": 3}]}, "item 1: input[0].content must be a text"),
    ({"input": "q", "expected": 4}, "item 1: expected must be a text"),
    ({"input": "q", "expectd": "4"}, "item 1: unknown field 'expectd'"),
    ({"input": "q", "metadata": []}, "item 1: metadata must be a JSON object"),
    ({"input": "q", "assertions": {"is_polite": True}}, "item 1: assertions.is_polite is not an assertion kind"),
    ({"input": "q", "assertions": {"must_contain": "4"}}, "item 1: assertions.must_contain must be a list"),
    ({"input": "q", "assertions": {"regex": "(unclosed"}}, "item 1: assertions.regex is not a valid regular"),
    ({"input": "q", "assertions": {"json_schema": {"type": "no-such-type"}}},
     "item 1: assertions.json_schema is not a valid JSON Schema"),
    ({"input": "q", "assertions": {"json_schema": "object"}}, "item 1: assertions.json_schema must be a JSON Schema"),
    ("just text", "item 1: must be a JSON object"),
])
def test_a_bad_item_is_named_by_index_and_field(bad: object, words: str) -> None:
    with pytest.raises(ItemError) as raised:
        parse_items([GOOD, bad])
    assert str(raised.value).startswith(words), str(raised.value)


@pytest.mark.parametrize("body", [[], {"input": "q"}, None])
def test_the_body_must_be_a_non_empty_list(body: object) -> None:
    with pytest.raises(ItemError, match="non-empty JSON list"):
        parse_items(body)


@pytest.mark.parametrize("name", ["", "has space", "-lead", "a/b", "x" * 129, None, 7])
def test_a_dataset_name_is_a_url_path_segment(name: object) -> None:
    with pytest.raises(ItemError, match="must be 1-128 letters"):
        check_name(name)
    assert check_name("golden-set_v1.2") == "golden-set_v1.2"



def test_an_edit_names_some_fields_each_checked_as_in_a_whole_item() -> None:
    cleared = {"expected": None, "metadata": {"by": "ann"}}
    assert parse_changes(cleared, 7) == cleared
    chat = {"input": [{"role": "user", "content": "q"}]}
    assert parse_changes(chat, 7) == chat
    for body, words in (({}, "item 7: the body must be a JSON object"), ([], "item 7: the body must be"),
                        ({"expeced": "a"}, "item 7: unknown field 'expeced'"),
                        ({"input": ""}, "item 7: input is required"),
                        ({"assertions": {"regex": "("}}, "item 7: assertions.regex is not a valid regular expression")):
        with pytest.raises(ItemError) as refused:
            parse_changes(body, 7)
        assert str(refused.value).startswith(words), (body, str(refused.value))
