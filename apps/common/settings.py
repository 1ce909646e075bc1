"""Settings shared by the model apps. Each app's `user_config` in serve_config.yaml is validated by
a pydantic model built from these pieces and applied in the deployment's `reconfigure`.

One rule for defaults: a field's default is its production value, and serve_config.yaml lists
every key with that same value, so operators see every knob (tests/test_defaults.py ties the two,
and the decorators, the KubeRay manifest and the autoscaling config to serve_config.yaml)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

ConfigT = TypeVar("ConfigT", bound=BaseModel)
Device = Literal["cpu", "cuda", "auto"]  # where a model runs (apps/common/engines/devices.py)


# keys renamed since they were published: the strict settings refuse them, naming the new one
RENAMED_KEYS = {
    "max_map_reduce_requests": "max_fan_out_requests",
    "chunk_calls_in_flight": "part_calls_in_flight",
    "chunk_timeout_s": "part_timeout_s",
}


class StrictSettings(BaseModel):
    """Unknown keys are errors: a typo in serve_config.yaml must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())
    # keys this class replaced with others of another shape: key -> what to write instead
    replaced_keys: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_renamed_keys(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            old = sorted(key for key in raw if key in RENAMED_KEYS and RENAMED_KEYS[key] in cls.model_fields)
            if old:
                raise ValueError(
                    "renamed keys: "
                    + ", ".join(f"{key} is now {RENAMED_KEYS[key]}" for key in old)
                    + " (docs/configuration.md)"
                )
            replaced = sorted(key for key in raw if key in cls.replaced_keys)
            if replaced:
                raise ValueError(
                    "replaced keys: "
                    + "; ".join(f"{key}: {cls.replaced_keys[key]}" for key in replaced)
                    + " (docs/configuration.md)"
                )
        return raw


def app_default(settings_cls: type[BaseModel], name: str, default: Any) -> Any:
    """`settings_cls`'s field `name` (its bounds and description) with one app's default: a field
    whose right value differs by app has no default in the shared class, only in each app's."""
    return FieldInfo.merge_field_infos(settings_cls.model_fields[name], default=default)


class HttpSettings(StrictSettings):
    """What every app's HTTP surface enforces (applied in `reconfigure` by apply_http_settings)."""

    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="largest request body, in bytes: a larger one is answered 413 before it is read "
        "(a Content-Length above it is refused at once; a chunked body when it passes it)",
    )
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="seconds a request body may take to arrive, from the request's start: a "
        "slower one is answered 408 and its slot freed (whatever timeout the client asked for)",
    )


class ModelAppSettings(HttpSettings):
    backend: Literal["transformers", "ctranslate2"] = Field(
        "ctranslate2",
        description="transformers (fp32, torch) or ctranslate2 (int8, converted at load time)",
    )
    device: Device = Field(
        "cpu",
        description="where the model runs: cpu; cuda (a GPU: the replica must see one, so give the "
        "deployment ray_actor_options.num_gpus; ctranslate2 computes in int8_float16 there, "
        "transformers in fp32); auto (cuda when the replica sees a CUDA device, else cpu). cuda "
        "without a CUDA device fails at load, saying so",
    )
    max_models_per_replica: int = Field(
        ge=1,
        le=64,
        description="models one replica holds loaded at once; a request for another loads it there "
        "(the least recently used one unloaded first), and requests for a model go to a replica "
        "that holds it (Serve's model multiplexing). Each model held costs its memory on the replica",
    )
    max_input_chars: int = Field(ge=1, description="longer texts are answered 413")
    num_beams: int = Field(1, ge=1, le=8, description="1 = greedy decoding")
    max_texts_per_request: int = Field(64, ge=1, le=1024, description="longest `texts` list accepted")
    max_request_chars: int = Field(
        ge=1,
        description="most characters of all of a request's texts together (the work one request may "
        "ask for, which must finish within the timeouts); more are answered 413",
    )
    max_batch_size: int = Field(ge=1, le=256, description="most texts decoded in one model call")
    batch_wait_timeout_s: float = Field(
        0.1,
        ge=0,
        le=1,
        description="after a model call, how long at most to wait for the callers it answered to send "
        "their next request (fills the next batch; never more than a quarter of that call); an idle "
        "replica never waits",
    )
    interactive_max_chars: int = Field(
        2000,
        ge=0,
        description="a request with more characters than this in all (a long document, a big list) is "
        "bulk work; a sentence or a paragraph is interactive (docs/configuration.md, Classes)",
    )
    interactive_max_texts: int = Field(
        4, ge=1, description="a request with more texts than this in its `texts` list is bulk work"
    )
    bulk_max_wait_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="classes on (> 0): interactive work has its own model thread, bulk work one at a "
        "lower OS priority; after this many seconds of back-to-back interactive calls with bulk work "
        "waiting, the next call takes the oldest bulk work (no starvation). 0: no classes, one queue "
        "oldest first",
    )
    interactive_batch_size: int = Field(
        2,
        ge=1,
        le=256,
        description="classes on: an interactive model call takes queued bulk texts until it holds "
        "this many (at most max_batch_size), so bulk work progresses in the calls interactive "
        "traffic makes; a larger call keeps more bulk throughput and answers the sentence later. "
        "1: interactive texts only",
    )
    cache_entries: int = Field(
        10_000,
        ge=0,
        le=1_000_000,
        description="outputs kept per replica (least recently used dropped first), by generation "
        "parameters and prompt; a prompt repeated within a request is decoded once. 0: no cache, "
        "every prompt decoded",
    )
    max_fan_out_requests: int = Field(
        4,
        ge=1,
        le=16,
        description="requests one replica fans out over every replica at once (a translation's "
        "parts, a long document's map-reduce chunks); the translator decodes more on that replica "
        "alone, the summarizer answers more 503 at once",
    )
    part_calls_in_flight: int = Field(
        ge=1,
        le=256,
        description="part calls (a translation's parts, a summary's chunks) one replica has in flight "
        "at once, to every replica; each is placed on the replica with the fewest requests when it "
        "is sent",
    )
    part_timeout_s: float = Field(
        20.0,
        gt=0,
        description="a part call with no answer within this is cancelled; sent once more if its "
        "replica is gone, else (only busy) its request gets a 503; keep it above a part's longest "
        "wait in a busy replica's queue and below the HTTP request_timeout_s",
    )
    cache_scope: Literal["per_key", "shared"] = Field(
        "per_key",
        description="with API keys on, whose cached outputs a request may be answered from: "
        "per_key, only those its own key's requests decoded; shared, any key's (a cached answer "
        "is faster, so with shared a key can tell whether another sent a sentence before). "
        "Without keys there is one scope",
    )

    @model_validator(mode="after")
    def _one_text_fits_a_request(self) -> ModelAppSettings:
        if self.max_request_chars < self.max_input_chars:
            raise ValueError(
                f"max_request_chars ({self.max_request_chars}) is below max_input_chars "
                f"({self.max_input_chars}): a text of the largest accepted size would be refused"
            )
        return self


def parse_user_config(settings_cls: type[ConfigT], raw: dict | None, app: str) -> ConfigT:
    """Validate a deployment's user_config; the error names the app and every bad key."""
    try:
        return settings_cls.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise ValueError(f"invalid user_config for the {app} app: {problems}") from None
