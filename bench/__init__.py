"""The benchmarks (`make bench`, bench-path, bench-long, bench-mixed): bench/README.md.

Every cluster a benchmark starts runs with Ray's token auth (a token of the run's own) and keeps
every socket of its head on 127.0.0.1; set here, before Ray is first imported, because Ray reads
both when it loads."""

import os

from textserve.exposure import LOOPBACK_HEAD_ENV
from textserve.ray_auth import use_session_token

use_session_token()
os.environ.update(LOOPBACK_HEAD_ENV)
