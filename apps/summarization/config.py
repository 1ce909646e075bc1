"""The summarization app's settings: `user_config` of the Summarizer deployment in serve_config.yaml."""

from __future__ import annotations

from pydantic import Field, model_validator

from apps.common.settings import ModelAppSettings


class SummarizationSettings(ModelAppSettings):
    max_input_chars: int = Field(
        150_000,
        ge=1,
        description="longer texts are answered 413; a text longer than the model's window is "
        "summarized chunk by chunk (map-reduce over the replicas)",
    )
    max_request_chars: int = Field(
        150_000, ge=1, description="most characters of all of a request's texts together; more: 413"
    )
    max_map_reduce_requests: int = Field(
        4,
        ge=1,
        le=16,
        description="requests with a text longer than the model's window one replica works on at "
        "once (each fans its chunks out to every replica); more are answered 503 at once",
    )
    chunk_timeout_s: float = Field(
        20.0,
        gt=0,
        description="a map-reduce chunk call with no answer within this is cancelled; sent once more "
        "if its replica is gone (a call to a replica that died under it can stay unanswered), else "
        "(only busy) its request gets a 503; keep it above a chunk's longest wait in a busy "
        "replica's queue and below the HTTP request_timeout_s",
    )
    chunk_calls_in_flight: int = Field(
        16,
        ge=1,
        le=256,
        description="map-reduce chunk calls one replica has in flight at once (to every replica)",
    )
    max_batch_size: int = Field(
        8,
        ge=1,
        le=256,
        description="most texts decoded in one model call (~500-token inputs are compute bound: "
        "batches of 8 decode as many documents/s as 16, with less memory)",
    )
    interactive_batch_size: int = Field(
        2,
        ge=1,
        le=256,
        description="classes on: an interactive model call takes queued bulk texts (map-reduce "
        "chunks) until it holds this many (at most max_batch_size): a paragraph's summary carries "
        "one ~500-token chunk along, not a full batch of them. 1: interactive texts only",
    )
    default_max_length: int = Field(60, ge=1, description="summary length cap, in tokens, if unasked")
    default_min_length: int = Field(0, ge=0, description="summary length floor, in tokens, if unasked")
    max_length_limit: int = Field(200, ge=1, le=1024, description="largest max_length a caller may ask")

    @model_validator(mode="after")
    def _consistent(self) -> SummarizationSettings:
        if not self.default_min_length <= self.default_max_length <= self.max_length_limit:
            raise ValueError("need default_min_length <= default_max_length <= max_length_limit")
        return self
