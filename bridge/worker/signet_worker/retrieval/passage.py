"""The retrieved passage type, apart from the search code so metrics can import it cheaply."""

from __future__ import annotations

from typing import Any


class Passage(str):
    """A retrieved passage: the text, with its id and score for metrics (JSON: the plain text)."""

    id: str
    score: float

    def __new__(cls, text: str, id: str, score: float) -> "Passage":  # noqa: A002 - the contract's name
        self = super().__new__(cls, text)
        self.id = id
        self.score = score
        return self

    def __reduce__(self) -> Any:  # copies (optimizers deep-copy predictions) keep id and score
        return (Passage, (str(self), self.id, self.score))


def retrieved_lists(prediction: Any) -> list[list[Passage]]:
    """Every output of a prediction that is a list of retrieved passages (a retrieve module's output)."""
    try:
        values = list(prediction.values()) if hasattr(prediction, "values") else list(dict(prediction).values())
    except (TypeError, ValueError):
        return []
    return [list(v) for v in values if isinstance(v, list) and v and all(isinstance(p, Passage) for p in v)]
