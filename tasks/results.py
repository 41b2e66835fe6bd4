"""What a task returns becomes its stored result only if it is plain JSON."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from tasks.jsondata import check_json


class ResultNotSerializable(TypeError):
    pass


def json_result(value: Any) -> Any:
    """The JSON form of a return value (a pydantic model is dumped); raises
    ResultNotSerializable for anything JSON cannot carry, NaN included."""
    if value is None:  # a task that returns nothing: most of them, no need to encode it
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    try:
        json.dumps(value, allow_nan=False)
        return check_json(value, "the result")
    except (TypeError, ValueError) as exc:
        raise ResultNotSerializable(
            f"the task returned a {type(value).__name__}, which is not JSON-serialisable: {exc}"
        ) from None
