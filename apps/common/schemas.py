"""Request-body building blocks shared by the apps' schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


def _usable_text(text: str) -> str:
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


# The `text` field every app takes: a JSON string of Unicode characters with something in it
# besides whitespace.
InputText = Annotated[
    str, AfterValidator(_usable_text), Field(description="English text", examples=["Hello world!"])
]


class TextOrTexts(BaseModel):
    """A body carrying one text (`text`) or many (`texts`, run together as one batch).

    Strict: a value must have its field's JSON type (no `false` for an integer, no `"5"` for a
    number), as the OpenAPI schema says; unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: InputText | None = None
    texts: list[InputText] | None = Field(
        None,
        min_length=1,
        description="many English texts at once; the answer lists their results in the same order",
        examples=[["Hello world!", "How are you?"]],
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TextOrTexts:
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
