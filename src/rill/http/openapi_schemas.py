"""JSON schemas for what FastAPI cannot describe itself: the event streams' events and
the other protocols' bodies (``/v1``), referenced from the OpenAPI document."""

from __future__ import annotations

from typing import Any


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties,
            "additionalProperties": True}


def _const(value: str) -> dict[str, Any]:
    return {"type": "string", "enum": [value]}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NULL_STR = {"type": ["string", "null"]}
_ANTHROPIC_STOP = {"type": ["string", "null"], "enum": [
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
    "model_context_window_exceeded", None]}
_RILL_STOP = {"type": "string", "description": "Rill's own stop reason: Anthropic's, or "
              "`cancelled`, `error`, `interrupted` (which `stop_reason` reports as `end_turn`)."}
_USAGE = _obj(["input_tokens", "output_tokens"], input_tokens=_INT, output_tokens=_INT)
_ERROR = _obj(["type", "message"], type=_STR, message=_STR)

CHAT_EVENTS: dict[str, dict[str, Any]] = {
    "message_start": _obj(["type", "message"], type=_const("message_start"), message=_obj(
        ["id", "type", "role", "content", "model", "usage"], id=_STR, type=_const("message"),
        role=_const("assistant"), content={"type": "array"}, model=_STR,
        stop_reason=_ANTHROPIC_STOP, stop_sequence=_NULL_STR, usage=_USAGE,
        conversation_id=_STR, user_message_id=_NULL_STR, chatbot_id=_STR)),
    "content_block_start": _obj(["type", "index", "content_block"],
                                type=_const("content_block_start"), index=_INT,
                                content_block=_obj(["type", "text"], type=_const("text"),
                                                   text=_STR)),
    "content_block_delta": _obj(["type", "index", "delta"], type=_const("content_block_delta"),
                                index=_INT, delta=_obj(["type", "text"],
                                                       type=_const("text_delta"), text=_STR)),
    "content_block_stop": _obj(["type", "index"], type=_const("content_block_stop"), index=_INT),
    "message_delta": _obj(["type", "delta", "usage"], type=_const("message_delta"),
                          delta=_obj(["stop_reason"], stop_reason=_ANTHROPIC_STOP,
                                     stop_sequence=_NULL_STR, rill_stop_reason=_RILL_STOP),
                          usage=_obj(["output_tokens"], output_tokens=_INT)),
    "message_stop": _obj(["type"], type=_const("message_stop")),
    "ping": _obj(["type"], type=_const("ping")),
    "error": _obj(["type", "error"], type=_const("error"), error=_ERROR),
}

_OPENAI_ERROR = _obj(["error"], error=_obj(["message", "type"], message=_STR, type=_STR,
                                           param=_NULL_STR, code=_NULL_STR))
_OPENAI_USAGE = _obj(["prompt_tokens", "completion_tokens", "total_tokens"],
                     prompt_tokens=_INT, completion_tokens=_INT, total_tokens=_INT)
_FINISH = {"type": ["string", "null"],
           "enum": ["stop", "length", "tool_calls", "content_filter", None]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "ChatEvent": {
        "description": "One event of a chat stream, in the Anthropic Messages streaming "
                       "format; the SSE `event` field is its `type`.",
        "oneOf": [{"$ref": f"#/components/schemas/ChatEvent_{name}"} for name in CHAT_EVENTS],
        "discriminator": {"propertyName": "type", "mapping": {
            name: f"#/components/schemas/ChatEvent_{name}" for name in CHAT_EVENTS}},
    },
    **{f"ChatEvent_{name}": schema for name, schema in CHAT_EVENTS.items()},
    "AnthropicMessage": _obj(
        ["id", "type", "role", "content", "model", "stop_reason", "usage"], id=_STR,
        type=_const("message"), role=_const("assistant"),
        content={"type": "array", "items": _obj(["type", "text"], type=_const("text"),
                                                text=_STR)},
        model=_STR, stop_reason=_ANTHROPIC_STOP, stop_sequence=_NULL_STR, usage=_USAGE,
        rill_stop_reason=_RILL_STOP, conversation_id=_STR),
    "AnthropicError": _obj(["type", "error"], type=_const("error"), error=_ERROR),
    "OpenAIModels": _obj(["object", "data"], object=_const("list"), data={
        "type": "array", "items": _obj(["id", "object", "created", "owned_by"], id=_STR,
                                       object=_const("model"), created=_INT, owned_by=_STR)}),
    "OpenAICompletion": _obj(
        ["id", "object", "created", "model", "choices"], id=_STR,
        object=_const("chat.completion"), created=_INT, model=_STR,
        choices={"type": "array", "items": _obj(
            ["index", "message", "finish_reason"], index=_INT,
            message=_obj(["role", "content"], role=_const("assistant"), content=_NULL_STR),
            finish_reason=_FINISH, rill_stop_reason=_RILL_STOP)},
        usage=_OPENAI_USAGE),
    "OpenAIChunk": {
        "description": "A `chat.completion.chunk` (the SSE `data`; the stream ends with "
                       "`data: [DONE]`), or an in-stream error `{\"error\": {...}}`.",
        "oneOf": [
            _obj(["id", "object", "created", "model", "choices"], id=_STR,
                 object=_const("chat.completion.chunk"), created=_INT, model=_STR,
                 choices={"type": "array", "items": _obj(
                     ["index", "delta"], index=_INT,
                     delta=_obj([], role=_const("assistant"), content=_NULL_STR),
                     finish_reason=_FINISH, rill_stop_reason=_RILL_STOP)},
                 usage={"oneOf": [{"type": "null"}, _OPENAI_USAGE]}),
            _OPENAI_ERROR,
        ],
    },
    "OpenAIError": _OPENAI_ERROR,
    "UIMessageChunk": {
        "description": "One chunk of the AI SDK's UI message stream (the SSE `data`); the "
                       "stream ends with `data: [DONE]`.",
        "oneOf": [
            _obj(["type"], type={"type": "string", "enum": ["start-step", "finish-step"]}),
            _obj(["type"], type=_const("start"), messageId=_STR, messageMetadata=_obj(
                [], conversationId=_STR, chatbotId=_STR)),
            _obj(["type", "id"], type={"type": "string", "enum": ["text-start", "text-end"]},
                 id=_STR),
            _obj(["type", "id", "delta"], type=_const("text-delta"), id=_STR, delta=_STR),
            _obj(["type", "errorText"], type=_const("error"), errorText=_STR),
            _obj(["type"], type=_const("finish"), finishReason={"type": "string", "enum": [
                "stop", "length", "content-filter", "tool-calls", "error", "interrupted",
                "other"]}, messageMetadata=_obj([], rillStopReason=_RILL_STOP)),
        ],
    },
}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "A Rill token: `POST /api/session`, `rill token`, or your "
                                  "identity provider's JWT. The session cookie works too."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
               "description": "A Rill token, as the Anthropic SDK sends its key (`/v1` only)."},
}
