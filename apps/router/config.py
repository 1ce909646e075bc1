"""The router's settings: `user_config` of the Router deployment in serve_config.yaml."""

from __future__ import annotations

from pydantic import Field

from apps.common.settings import HttpSettings, StrictSettings


class LeafAppRef(StrictSettings):
    app: str = Field(..., description="Serve application name")
    deployment: str = Field(..., description="ingress deployment of that application")


class RouterSettings(HttpSettings):
    translation: LeafAppRef = LeafAppRef(app="translation", deployment="Translator")
    summarization: LeafAppRef = LeafAppRef(app="summarization", deployment="Summarizer")
    leaf_timeout_s: float = Field(60.0, gt=0, description="longest wait for one leaf app call")
