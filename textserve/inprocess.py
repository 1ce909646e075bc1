"""Deploy one application of a Serve config dict from the current Ray driver (`serve.run`), with its
deployment options (replicas, resources, max_ongoing_requests, user_config) and logging config
exactly as the config gives them. The tests and the benchmark use it; users deploy with
`serve deploy`."""

from __future__ import annotations

import importlib
import random
import socket

# Ports for our servers come from below the kernel's ephemeral range (32768-60999 on Linux) and
# above Ray's worker ports (10002-19999): while a cluster starts, its processes bind ephemeral ports
# (port 0), and one took a port picked that way between our pick and Serve's bind (seen once in CI).
# Handed out in turn from a random start, so one process never gets the same port twice (a node's
# ports must differ) and two processes rarely meet.
PORT_RANGE = (20000, 32768)
_last_port = random.randrange(*PORT_RANGE)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a cluster's Serve or metrics)."""
    global _last_port
    low, high = PORT_RANGE
    for _ in range(high - low):
        _last_port = low + (_last_port + 1 - low) % (high - low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", _last_port))
            except OSError:
                continue
            return _last_port
    raise RuntimeError(f"no free port in {low}-{high - 1}")


def app_config(config: dict, name: str) -> dict:
    """The application called `name` in a Serve config dict."""
    return next(app for app in config["applications"] if app["name"] == name)


def deploy_app(app_cfg: dict, user_config: dict | None = None) -> None:
    """`serve.run` the app under its own name and route prefix; `user_config` replaces the
    config's for its ingress. The ingress is the app's first deployment; the others, in order,
    are bound as its arguments (as the app's module binds them: the router's file store)."""
    from ray import serve

    module_name = app_cfg["import_path"].split(":")[0]
    module = importlib.import_module(module_name)
    bound = []
    for number, deployment_cfg in enumerate(app_cfg["deployments"]):
        options = {k: v for k, v in deployment_cfg.items() if k != "name"}
        if user_config is not None and number == 0:
            options["user_config"] = user_config
        bound.append(getattr(module, deployment_cfg["name"]).options(**options))
    ingress, *arguments = bound
    serve.run(
        ingress.bind(*(deployment.bind() for deployment in arguments)),
        name=app_cfg["name"],
        route_prefix=app_cfg["route_prefix"],
        logging_config=app_cfg.get("logging_config"),
    )
