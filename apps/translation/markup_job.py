"""A request of marked-up documents (`format` html or markdown, or a file) as the translation
service runs it: the job of their segments' texts, and how to put them back."""

from __future__ import annotations

from dataclasses import dataclass

from apps.common.job import Job
from apps.common.scheduling import Priority
from apps.translation.catalog import Route
from apps.translation.files import ReadFile
from apps.translation.markup.segments import MarkedUpDocument


@dataclass(frozen=True)
class MarkupJob:
    """A request of marked-up documents: `job` translates their segments' texts (as one list;
    `counts[i]` of them are document i's), along `route`; `many`: the request sent `texts`."""

    job: Job
    documents: list[MarkedUpDocument]
    counts: list[int]
    many: bool
    route: Route
    file: ReadFile | None = None  # a file's: how its translation is written as that file


@dataclass(frozen=True)
class DocumentsAsk:  # a document's texts, as a request's class and deadline are read (deadlines.Asks)
    inputs: list[str]
    priority: Priority | None
    timeout_s: float | None
