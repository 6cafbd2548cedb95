"""A DSPy module with typed fields: a conversation history in, a pydantic model out.

Signet gives `history` to the module as a `dspy.History` (from the JSON list of turns a run
sends) and returns `place` as the JSON object of the `Place` that DSPy parsed.
"""

import dspy
import pydantic


class Place(pydantic.BaseModel):
    city: str
    population: int
    tags: list[str]


class Ask(dspy.Signature):
    """Describe the place asked about."""

    question: str = dspy.InputField()
    history: dspy.History = dspy.InputField()
    place: Place = dspy.OutputField()


class Describe(dspy.Module):
    def __init__(self):
        super().__init__()
        self.ask = dspy.Predict(Ask)

    def forward(self, question: str, history: dspy.History):
        return self.ask(question=question, history=history)
