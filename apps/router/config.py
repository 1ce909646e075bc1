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
