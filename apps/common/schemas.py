"""Request-body building blocks shared by the apps' schemas."""

from typing import Annotated

from pydantic import AfterValidator, Field


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty: send the English text to work on")
    return text


# The `text` field every app takes: a JSON string with something in it besides whitespace.
InputText = Annotated[
    str, AfterValidator(_not_blank), Field(description="English text", examples=["Hello world!"])
]
