"""The systems under test, each deployed as two Serve applications (translate, summarize) on the
benchmark's cluster, under names no other cluster uses:

- `reference`: the seed guide's design (bench/reference.py);
- `ours-<backend>`: our translation and summarization apps with serve_config.yaml's deployment
  options and user_config (replicas, CPUs, max_ongoing_requests, batching), changing only the
  model (the t5-small-shaped one), the backend, and forced output lengths.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import yaml
from ray import serve

from bench.models import Workload
from bench.reference import SeedSummarizer, SeedTranslator
from textserve.inprocess import app_config, deploy_app
from textserve.run_config import with_model

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_FOR_WORKLOAD = {"translate": "translation", "summarize": "summarization"}


@dataclass(frozen=True)
class Target:
    """One workload's application of one system."""

    app: str  # Serve application name
    deployment: str
    path: str  # where requests go: the route prefix (or its "/")


@dataclass(frozen=True)
class System:
    name: str  # "reference", "ours-transformers", "ours-ctranslate2"
    backend: str

    def target(self, workload: str) -> Target:
        app = f"bench-{self.name}-{workload}"
        deployment = {
            ("reference", "translate"): "SeedTranslator",
            ("reference", "summarize"): "SeedSummarizer",
        }.get((self.name, workload)) or ("Translator" if workload == "translate" else "Summarizer")
        # the seed's client posts to the route's "/" (FastAPI answers the bare prefix with a 307)
        path = f"/{app}/" if self.name == "reference" else f"/{app}"
        return Target(app, deployment, path)

    def deploy(self, model_dir: Path, loads: dict[str, Workload]) -> None:
        for workload in loads:
            self._deploy_one(workload, model_dir, loads[workload])

    def delete(self, loads: dict[str, Workload]) -> None:
        for workload in loads:
            serve.delete(self.target(workload).app)

    def _deploy_one(self, workload: str, model_dir: Path, load: Workload) -> None:
        target = self.target(workload)
        if self.name == "reference":
            if workload == "translate":
                app = SeedTranslator.bind(str(model_dir), load.output_tokens)
            else:
                app = SeedSummarizer.bind(str(model_dir))
            serve.run(app, name=target.app, route_prefix=f"/{target.app}")
            return
        config = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
        app_cfg = copy.deepcopy(app_config(config, APP_FOR_WORKLOAD[workload]))
        app_cfg.update(name=target.app, route_prefix=f"/{target.app}")
        user_config = with_model(app_cfg["deployments"][0]["user_config"], str(model_dir))
        user_config["backend"] = self.backend
        if workload == "translate":  # summaries get their length from the request
            user_config.update(max_new_tokens=load.output_tokens, min_new_tokens=load.output_tokens)
        deploy_app(app_cfg, user_config=user_config)


def _deployment(app: str) -> dict:
    config = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    return app_config(config, app)["deployments"][0]


def _user_config(app: str) -> dict:
    return _deployment(app)["user_config"]


def configured_backend() -> str:
    """The backend serve_config.yaml chooses for the translation app."""
    return _user_config("translation").get("backend", "transformers")


def configured_batch_size(workload: str) -> int:
    """serve_config.yaml's max_batch_size for the app that serves `workload`."""
    return int(_user_config(APP_FOR_WORKLOAD[workload]).get("max_batch_size", 16))


def full_batch_size(workload: str, clients: int) -> int:
    """The largest batch our replicas can form with `clients` closed-loop clients: each replica
    holds about clients / replicas of them, up to serve_config.yaml's max_batch_size."""
    replicas = int(_deployment(APP_FOR_WORKLOAD[workload]).get("num_replicas", 1))
    return max(1, min(configured_batch_size(workload), clients // replicas))


def request_bodies(load: Workload) -> list[dict]:
    if load.name == "translate":
        return [{"text": text} for text in load.texts]
    length = load.output_tokens
    return [{"text": text, "max_length": length, "min_length": length} for text in load.texts]
