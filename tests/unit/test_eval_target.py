"""A target's checks, an item's messages through the template, and a reply's parsing, without a network."""

from __future__ import annotations

import json

import pytest

from evals.spans import CallRecord, RunTags, parts_messages, provider_of, span_attributes
from evals.target import (
    INVALID_REPLY,
    ChatReply,
    Target,
    TemplateError,
    build_messages,
    parse_reply,
    render,
    request_body,
)
from schemas import experiment_fields as xf

URL = "http://127.0.0.1:9000/v1"


def completion(content: object = "Paris", **extra: object) -> str:
    body = {"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3}, **extra}
    return json.dumps(body)


@pytest.mark.parametrize(("fields", "message"), [
    ({"endpoint": "ftp://host/v1"}, r"endpoint must be an http\(s\) URL"),
    ({"endpoint": "127.0.0.1:9000/v1"}, r"endpoint must be an http\(s\) URL"),
    ({"endpoint": "http://[::1"}, r"endpoint must be an http\(s\) URL"),
    ({"model": " "}, "model is required"),
    ({"temperature": 2.5}, "temperature must be a number from 0 to 2"),
    ({"temperature": -0.1}, "temperature must be a number from 0 to 2"),
    ({"temperature": "0.3"}, "temperature must be a number"),
    ({"temperature": float("nan")}, "temperature must be a number"),
    ({"max_tokens": 0}, "max_tokens must be an integer of at least 1"),
    ({"max_tokens": 1.5}, "max_tokens must be an integer"),
    ({"max_tokens": True}, "max_tokens must be an integer"),
    ({"timeout_s": 0}, "timeout_s must be a number"),
    ({"prompt_template": 3}, "prompt_template must be a string"),
])
def test_a_bad_target_is_refused_with_a_message_fit_for_a_400(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Target(**{"endpoint": URL, "model": "gpt-4o-mini", **fields})


def test_a_target_accepts_the_edges_and_hides_its_key() -> None:
    target = Target("https://api.example.com/v1/", "m", api_key="sk-secret", temperature=2, max_tokens=1)
    assert target.url == "https://api.example.com/v1/chat/completions"
    assert "sk-secret" not in repr(target) and "sk-secret" not in str(target)


def test_a_text_goes_through_the_template_with_metadata_and_the_system_prompt_first() -> None:
    target = Target(URL, "m", system_prompt="You are terse about {{topic}}.",
                    prompt_template="Answer briefly ({{ lang }}, max {{n}}): {{input}}")
    messages = build_messages(target, "Capital of France?", {"lang": "en", "n": 5, "topic": "geo"})
    assert messages == [{"role": "system", "content": "You are terse about geo."},
                        {"role": "user", "content": "Answer briefly (en, max 5): Capital of France?"}]


def test_a_text_without_a_template_is_the_user_message_as_is() -> None:
    assert build_messages(Target(URL, "m"), "Hi {{there}}", {}) == [{"role": "user", "content": "Hi {{there}}"}]


def test_a_message_list_is_sent_as_is_with_variables_filled_in_each_content() -> None:
    target = Target(URL, "m", system_prompt="Be kind.", prompt_template="ignored {{input}}")
    item = [{"role": "system", "content": "Speak {{lang}}."}, {"role": "user", "content": "Hello {{name}}"}]
    assert build_messages(target, item, {"lang": "fr", "name": "Ada"}) == [
        {"role": "system", "content": "Be kind."}, {"role": "system", "content": "Speak fr."},
        {"role": "user", "content": "Hello Ada"}]
    assert item[1]["content"] == "Hello {{name}}"  # the item itself is not changed


def test_a_missing_variable_names_itself_and_what_the_item_has() -> None:
    target = Target(URL, "m", prompt_template="{{input}} in {{city}}")
    with pytest.raises(TemplateError, match=r"\{\{city\}\} is not in the item's metadata \(it has: input, lang\)"):
        build_messages(target, "Weather?", {"lang": "en"})
    with pytest.raises(TemplateError, match=r"\{\{who\}\}"):
        build_messages(Target(URL, "m"), [{"role": "user", "content": "Hi {{who}}"}], {})


def test_values_are_rendered_once_and_objects_as_json() -> None:
    assert render("{{a}} {{b}}", {"a": "{{b}}", "b": {"k": [1, "é"]}}) == '{{b}} {"k": [1, "é"]}'


def test_the_request_body_carries_sampling_settings_only_when_given() -> None:
    messages = [{"role": "user", "content": "q"}]
    assert request_body(Target(URL, "m"), messages) == {"model": "m", "messages": messages}
    assert request_body(Target(URL, "m", temperature=0, max_tokens=7), messages) == {
        "model": "m", "messages": messages, "temperature": 0, "max_tokens": 7}


def test_a_chat_completion_is_parsed() -> None:
    assert parse_reply(completion(), "gpt-4o-mini") == ChatReply(
        "Paris", "gpt-4o-mini-2024-07-18", "chatcmpl-1", "stop", 12, 3)


def test_a_reply_without_usage_has_no_token_counts_rather_than_zero() -> None:
    body = json.loads(completion())
    del body["usage"]
    reply = parse_reply(json.dumps(body), "m")
    assert (reply.output, reply.input_tokens, reply.output_tokens, reply.error) == ("Paris", None, None, "")


def test_text_parts_are_joined() -> None:
    reply = parse_reply(completion([{"type": "text", "text": "Par"}, {"type": "text", "text": "is"}]), "m")
    assert reply.output == "Paris" and not reply.error


@pytest.mark.parametrize(("body", "error"), [
    ("<html>502 Bad Gateway</html>", "the endpoint answered 200 with a body that is not JSON: '<html>502 Bad"),
    ("[1, 2]", "the endpoint answered 200 with JSON that is not an object"),
    ('{"id": "x", "choices": []}', "the reply has no choices"),
    ('{"error": {"message": "model overloaded"}}', "the endpoint answered 200 with an error: model overloaded"),
    (completion(None), "the reply's message has no text content (finish_reason stop)"),
])
def test_a_body_that_is_not_a_chat_completion_is_an_error_saying_what_was_wrong(body: str, error: str) -> None:
    reply = parse_reply(body, "m")
    assert reply.error.startswith(error), reply.error
    assert (reply.output, reply.error_type) == ("", INVALID_REPLY)


def test_the_span_attributes_are_those_the_normalizer_reads() -> None:
    target = Target(URL, "gpt-4o-mini", temperature=0.2, max_tokens=64)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital?"}]
    reply = ChatReply("Paris", "gpt-4o-mini-2024-07-18", "chatcmpl-1", "stop", 12, 3)
    attributes = span_attributes(CallRecord(target, messages, reply, RunTags("exp-1", "geo", 2), 17, 1, 2))
    assert attributes["gen_ai.operation.name"] == "chat" and "gen_ai.provider.name" not in attributes
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (12, 3)
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert (attributes["gen_ai.request.temperature"], attributes["gen_ai.request.max_tokens"]) == (0.2, 64)
    assert json.loads(attributes["gen_ai.input.messages"]) == parts_messages(messages)
    assert json.loads(attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Paris"
    assert {key: attributes[key] for key in (xf.EXPERIMENT_NAME, xf.DATASET_NAME, xf.DATASET_VERSION, xf.ITEM_ID,
                                              xf.ITEM_OUTPUT)} == {
        xf.EXPERIMENT_NAME: "exp-1", xf.DATASET_NAME: "geo", xf.DATASET_VERSION: 2, xf.ITEM_ID: 17,
        xf.ITEM_OUTPUT: "Paris"}
    assert "error.type" not in attributes


def test_a_failed_call_has_an_error_type_and_no_answer() -> None:
    reply = ChatReply("", "m", "", "", None, None, "the endpoint answered HTTP 500", "500")
    attributes = span_attributes(CallRecord(Target(URL, "m"), [], reply, RunTags("e", "d", 1), 1, 1, 2))
    assert attributes["error.type"] == "500"
    assert not {"gen_ai.output.messages", xf.ITEM_OUTPUT, "gen_ai.response.model"} & set(attributes)


def test_a_known_host_names_its_provider_and_any_other_leaves_it_to_the_model_id() -> None:
    assert provider_of("https://api.openai.com/v1") == "openai"
    assert provider_of("https://myco.openai.azure.com/openai/v1") == "azure.ai.openai"
    assert provider_of("https://api.groq.com/openai/v1") == "groq"
    assert provider_of("http://127.0.0.1:8000/v1") == ""
