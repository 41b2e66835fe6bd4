"""Artifacts: files a task stores. Their bytes live in the database (table
`task_artifact`), so any worker on any host can serve a download; the task's
`artifact` event announces each one."""

from __future__ import annotations

import re

from pydantic import BaseModel


class ArtifactInfo(BaseModel):
    """What the `artifact` event carries and `GET /api/tasks/<id>` lists."""

    name: str
    label: str
    mime: str
    size: int
    url: str


MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;[ -~]*)?")


def check_media_type(mime: str) -> None:
    """A download's Content-Type is the artifact's mime: one a header cannot carry
    (a NUL, any non-ASCII) made every download of the file fail, so it is refused
    when the task stores the file, like an oversized one."""
    if len(mime) > 255 or not MEDIA_TYPE.fullmatch(mime):
        raise ValueError(f"artifact mime {mime!r} is not a media type such as 'text/csv; charset=utf-8'")


def safe_filename(label: str) -> str:
    """A name that is safe in a URL and a Content-Disposition header:
    [A-Za-z0-9._-] only, no leading dot, at most 100 characters."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip(".-")[:100]
    return name or "artifact"


def unique_name(taken: set[str], name: str) -> str:
    """`name`, or `name-2.ext`, `name-3.ext`... if a task stores the same label twice."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    return candidate


def artifact_url(task_id: str, name: str) -> str:
    return f"/api/tasks/{task_id}/artifacts/{name}"
