"""Request-body building blocks shared by the apps' schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def usable_text(text: str) -> str:
    """`text` if it is a text to work on, else ValueError saying what to send."""
    if not text.strip():
        raise ValueError("text is empty: send the English text to work on")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON allows "\ud800" alone; no tokenizer can read it
        raise ValueError(
            f"text has a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}, "
            "which is not a character: send the character itself or a complete surrogate pair"
        ) from None
    return text


def _not_whitespace_class() -> str:
    """A regex class of the characters that are not whitespace as Python's str.strip() sees it:
    JSON Schema's `\\S` counts U+0085 as text and U+FEFF as space, Python the other way round."""
    spaces = [c for c in range(0x10000) if chr(c).isspace()]
    runs: list[list[int]] = []
    for c in spaces:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    parts = [f"\\u{a:04x}" + (f"-\\u{b:04x}" if b > a else "") for a, b in runs]
    return "[^" + "".join(parts) + "]"


NOT_WHITESPACE = _not_whitespace_class()

# The `text` field every app takes: a JSON string of Unicode characters with something in it
# besides whitespace (the schema's pattern says so; the validator says it in words).
InputText = Annotated[
    str,
    AfterValidator(usable_text),
    Field(
        description="English text", examples=["Hello world!"], json_schema_extra={"pattern": NOT_WHITESPACE}
    ),
]


def _whole_float_as_int(value: Any) -> Any:
    # JSON Schema's "integer" is any number without a fraction: 60.0 is one, as much as 60
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole_number(**constraints: Any) -> Any:
    """An integer field type: a JSON number with no fractional part (strict otherwise: no "5", no
    true), with Field constraints (ge=...) that the schema shows."""
    return Annotated[int, Field(**constraints), BeforeValidator(_whole_float_as_int)]


def _add_schema_rules(schema: dict[str, Any], model: type[TextOrTexts]) -> None:
    model.add_schema_rules(schema)


def form_fields_schema(schema: dict[str, Any]) -> None:
    """A form's model's `json_schema_extra`: a form field cannot be null (a field left out takes
    its default), so its schema says only what may be sent."""
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None:
            del field["default"]
        kinds = [kind for kind in field.pop("anyOf", []) if kind.get("type") != "null"]
        if len(kinds) == 1:
            field.update(kinds[0])
        elif kinds:
            field["anyOf"] = kinds


TimeoutSeconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]


class TextOrTexts(BaseModel):
    """A body carrying one text (`text`) or many (`texts`, run together as one batch).

    Strict: a value must have its field's JSON type (no `false` for an integer, no `"5"` for a
    number), as the OpenAPI schema says; unknown fields are errors. Rules across fields are in
    the schema too (`add_schema_rules`), so a body valid by the schema is never refused for its
    shape."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_add_schema_rules)

    # Absent, not null: the schema lists them as non-nullable and a null is refused.
    text: InputText | None = None
    texts: Annotated[list[InputText], Field(min_length=1)] | None = Field(
        None,
        description="many English texts at once; the answer lists their results in the same order",
        examples=[["Hello world!", "How are you?"]],
    )

    priority: Literal["interactive", "bulk"] | None = Field(
        None,
        description="bulk: queue this request behind interactive work. A request is bulk anyway when "
        "it is big (a long document, a long list: the app's interactive_max_chars and "
        "interactive_max_texts); asking for interactive does not change that",
    )
    timeout_s: TimeoutSeconds | None = Field(
        None,
        description="seconds this client waits for the answer: work that cannot be decoded within them "
        "is dropped, not decoded, and answered 504 (as X-Request-Timeout-Seconds; the sooner of the "
        "two, and of the server's own request timeout, applies)",
        examples=[10],
    )

    @classmethod
    def add_schema_rules(cls, schema: dict[str, Any]) -> None:
        """Cross-field rules in JSON Schema terms; subclasses add theirs."""
        schema["oneOf"] = [{"required": ["text"]}, {"required": ["texts"]}]
        for name in ("text", "texts"):  # absent, never null: the non-null branch, no default
            field = schema["properties"][name]
            field.pop("default", None)
            branches = [b for b in field.pop("anyOf", []) if b.get("type") != "null"]
            field.update(*branches)

    @model_validator(mode="after")
    def _exactly_one(self) -> TextOrTexts:
        for name in ("text", "texts"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(
                    f"`{name}` is null: send `text` as a string or `texts` as a list of strings, "
                    "and leave the other out"
                )
        if self.text is None and self.texts is None:
            raise ValueError("send `text` (a string) or `texts` (a list of strings)")
        if self.text is not None and self.texts is not None:
            raise ValueError("send `text` or `texts`, not both")
        return self

    @property
    def inputs(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


def text_fields(text: str | list[str]) -> dict[str, Any]:
    """Handle argument -> body fields: a string is `text`, a list is `texts`."""
    return {"texts": text} if isinstance(text, list) else {"text": text}
