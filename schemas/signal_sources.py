"""Where each convention says what a call's failure signals read (`collector.signals`): as data.

*JSON requested.* OTel GenAI says it with `gen_ai.output.type` = `json` (the content type the client
requested; OpenLIT sets it too) and, before that, `gen_ai.openai.request.response_format`
(`json_object` / `json_schema`). OpenLLMetry records the schema itself as
`gen_ai.request.structured_output_schema` (`{"type": "json_object"}` for plain JSON mode).
OpenInference and Langfuse keep the request's parameters as JSON (`llm.invocation_parameters`,
`langfuse.observation.model.parameters`), where OpenAI's `response_format`, the Responses API's
`text.format`, Anthropic's `output_format`, Gemini's `response_mime_type` with its schema and
Ollama's `format` say it; Langfuse's OpenAI integration puts `response_format` / `text_format` in
the observation's metadata. The Vercel AI SDK says it by the operation: `ai.generateObject` and
`ai.streamObject` always ask for JSON (the schema, `ai.schema`, is on the wrapper span). An answer
that is a tool call is structured output too: its arguments must be JSON, and fit the tool's
parameters where the span carries the tool definitions.
"""

from __future__ import annotations

OUTPUT_TYPE = "gen_ai.output.type"
JSON_OUTPUT_TYPES = frozenset({"json"})
# Attributes whose value names a response format ("json_object"), or holds the format object as JSON.
FORMAT_KEYS = (
    "gen_ai.openai.request.response_format", "gen_ai.request.response_format",
    "gen_ai.request.structured_output_schema", "gen_ai.request.response_format.schema",
    "langfuse.observation.metadata.response_format",
    "langfuse.observation.metadata.text_format", "ai.schema",
)
JSON_FORMAT_NAMES = frozenset({"json", "json_object", "json_schema", "application/json"})
# JSON request parameters (a text attribute or a map), read only when the text mentions a format.
PARAMETER_KEYS = ("llm.invocation_parameters", "langfuse.observation.model.parameters")
PARAMETER_HINTS = ("format", "json", "schema", "mime")
# Inside parameters: keys whose value is a response format (a name, a format object or a schema).
FORMAT_PARAMETERS = ("response_format", "output_format", "format")
NESTED_FORMAT = (("text", "format"), ("output_config", "format"))  # the Responses API, Anthropic's newer form
MIME_TYPE_PARAMETERS = ("response_mime_type", "responseMimeType")
SCHEMA_PARAMETERS = ("response_json_schema", "responseJsonSchema", "response_schema", "responseSchema")
CONFIG_PARAMETERS = ("config", "generation_config", "generationConfig")  # Gemini nests its settings
# Vercel AI SDK operations (ai.operationId, or the span name) that generate an object, lower-cased.
VERCEL_OPERATION_ID = "ai.operationId"
VERCEL_OBJECT_OPERATIONS = frozenset({
    "ai.generateobject", "ai.generateobject.dogenerate", "ai.streamobject", "ai.streamobject.dostream",
})
# The raw answer text where a convention keeps it apart from the messages (Vercel: the object as
# the model wrote it, before the SDK parsed it).
ANSWER_KEYS = ("ai.response.object",)

# Tool definitions, for the schema a tool call's arguments must fit.
TOOL_DEFINITIONS = "gen_ai.tool.definitions"   # OTel ≥1.37, OpenLLMetry: [{"name", "parameters"}]
VERCEL_TOOLS = "ai.prompt.tools"               # a list of JSON texts: {"name", "inputSchema" | "parameters"}
OPENINFERENCE_TOOLS = "llm.tools."             # llm.tools.{i}.tool.json_schema: {"function": {"name", …}}
OPENINFERENCE_TOOL_SCHEMA = "tool.json_schema"
OPENLLMETRY_FUNCTIONS = "llm.request.functions."  # llm.request.functions.{i}.name / .parameters

# Lower-cased finish reasons that mean the answer stopped at the token limit: OpenAI, OTel and the
# Vercel AI SDK `length`, Anthropic and Bedrock `max_tokens`, Gemini and Cohere `MAX_TOKENS`, the
# Responses API `max_output_tokens`, Mistral `model_length`, Anthropic's context-window stop.
TRUNCATION_FINISH_REASONS = frozenset({
    "length", "max_tokens", "max_output_tokens", "model_length", "model_context_window_exceeded",
})

# A tool result the framework handed back to the model in place of an answer, recognised by how it
# opens: LangChain's ToolNode ("Error: …"), the OpenAI Agents SDK ("An error occurred while running
# the tool…"), CrewAI ("Error executing tool…"), a Python traceback. Lower-cased.
TOOL_ERROR_OPENINGS = (
    "error:", "error executing", "error running", "an error occurred", "traceback (most recent call last)",
    "exception:",
)
