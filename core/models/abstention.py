"""The abstain answer and how to tell an abstention, in one place for the engine, the compare page,
the metrics and the datasets.

``is_abstention`` decides by meaning, not by the exact words: an answer abstains when it says, in
any of the ways a model says it, that it does not know or that its sources do not hold the answer
("I don't know.", "The passages do not contain the answer.", "There is no information about...",
"The answer is not provided.").
So "The passages do not contain..." counts as abstaining everywhere: the evaluation scores it as an
abstention, and the compare page and the withholding rule do not support-check it (there is no
claim to check). An answer that abstains and also claims something ("I'm not sure, but it is 14
days") counts as an abstention: it is scored as one, and not shown as a supported claim.
"""

from __future__ import annotations

import re

ABSTAIN = "I don't know."  # what an arm answers when it must not answer (prompts, training data, withholding)

_ABSTAIN_PATTERNS = re.compile(
    r"\b(i (do not|don't|dont) know|i am not sure|i'm not sure|not (provided|mentioned|stated|specified|available) in"
    r"|(the )?(passages?|documents?|context|text) (do|does) not (contain|mention|say|provide|specify)"
    r"|no information|cannot (find|answer|determine)|can't (find|answer|determine)|unable to (find|answer|determine)"
    r"|there is no (mention|information)"
    r"|(the )?answer is not (provided|given|known|available|mentioned|stated))\b",
    re.IGNORECASE,
)


def is_abstention(answer: str | None) -> bool:
    """Whether ``answer`` says it does not know (see the module's docstring for what counts)."""
    return bool(_ABSTAIN_PATTERNS.search((answer or "").replace("’", "'")))
