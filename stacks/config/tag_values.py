"""The owner and cost-centre values of the tags, as config types: checked in plain words and
stored in their one canonical form (the form every cloud and Kubernetes then carries)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from components.tags import (
    COST_CENTER_RULE,
    OWNER_RULE,
    canonical_cost_center,
    canonical_owner,
    owner_hint,
)


def _text(value: object, kind: str) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError(kind, "must be written as text")
    return value.strip()


def _cost_center(value: object) -> str:
    canonical = canonical_cost_center(_text(value, "cost_center"))
    if canonical is None:
        raise PydanticCustomError("cost_center", COST_CENTER_RULE)
    return canonical


def _owner(value: object) -> str:
    text = _text(value, "owner")
    canonical = canonical_owner(text)
    if canonical is None:
        # The message is fixed text: braces in a value would be read as a template.
        raise PydanticCustomError("owner", (OWNER_RULE + owner_hint(text)).replace("{", "(")
                                  .replace("}", ")"))
    return canonical


#: A cost centre in any case (`ml-4200`), stored upper-case (`ML-4200`).
CostCenter = Annotated[str, BeforeValidator(_cost_center)]
#: An owner handle in any case, stored lower-case; no e-mail address (see components/tags.py).
Owner = Annotated[str, BeforeValidator(_owner)]
