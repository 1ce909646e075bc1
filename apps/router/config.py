"""The router's settings: `user_config` of the Router deployment in serve_config.yaml."""

from __future__ import annotations

from pydantic import Field

from apps.common.ray_adapter import CONTROLLER_TIMEOUT_S
from apps.common.settings import HttpSettings, StrictSettings


class LeafAppRef(StrictSettings):
    app: str = Field(..., description="Serve application name")
    deployment: str = Field(..., description="ingress deployment of that application")


class RouterSettings(HttpSettings):
    translation: LeafAppRef = Field(
        LeafAppRef(app="translation", deployment="Translator"),
        description="the translation app's ingress, reached through its DeploymentHandle",
    )
    summarization: LeafAppRef = Field(
        LeafAppRef(app="summarization", deployment="Summarizer"),
        description="the summarization app's ingress, reached through its DeploymentHandle",
    )
    leaf_timeout_s: float = Field(
        25.0,
        gt=0,
        description="longest wait for a leaf app's answer, then a 503 naming it (< request_timeout_s)",
    )
    health_timeout_s: float = Field(
        10.0, gt=0, description="a leaf that cannot decode one token in this long counts as down"
    )
    unavailable_retry_after_s: float = Field(
        5.0, ge=1, description="the Retry-After of a 503 for a leaf app that is down or slow"
    )
    health_cache_s: float = Field(
        2.0,
        ge=0,
        description="a /healthz answer of every leaf app serving is reused this long (a burst of "
        "probes costs one check per router replica); a failed check is never reused",
    )
    apps_refresh_s: float = Field(
        2.0,
        ge=0,
        description="the apps' route prefixes and deploy times, read from Serve's controller, are "
        "reused this long; the merged /openapi.json is made again only when they change",
    )
    controller_timeout_s: float = Field(
        CONTROLLER_TIMEOUT_S,
        gt=0,
        description="longest wait for Serve's controller (the apps' route prefixes)",
    )


class FileStoreSettings(StrictSettings):
    """`user_config` of the router app's TranslatedFiles deployment: the translated files
    LibreTranslate's /translate_file keeps for download (apps/router/file_store.py)."""

    ttl_s: float = Field(
        600.0,
        gt=0,
        le=86_400,
        description="a translated file can be downloaded this long, then it is gone",
    )
    max_bytes: int = Field(
        67_108_864,
        ge=2_097_152,
        le=2_147_483_648,
        description="the most bytes of files kept at once, in the store's memory (the oldest go first)",
    )
