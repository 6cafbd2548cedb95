"""An ordinary DSPy module, written as in any DSPy project, that Signet runs as a `custom` module."""

import dspy


class DraftThenAnswer(dspy.Module):
    """Drafts an answer, then shortens it: two predictors inside one user module."""

    def __init__(self, style: str = "a few words") -> None:
        super().__init__()
        self.draft = dspy.ChainOfThought("question -> draft_answer")
        self.shorten = dspy.Predict("question, draft_answer -> answer")
        self.shorten.signature = self.shorten.signature.with_instructions(
            f"Rewrite the draft answer as {style}."
        )

    def forward(self, question: str) -> dspy.Prediction:
        draft = self.draft(question=question)
        return self.shorten(question=question, draft_answer=draft.draft_answer)
