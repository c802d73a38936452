"""Input types shared by components."""

from __future__ import annotations

import pulumi

#: A string known now or only once a resource exists (an Output).
StrInput = str | pulumi.Output[str]
