"""The arms of a comparison: one table says what each is and does.

Code asks the table (``ARMS_BY_NAME[name].uses_adapter``, ``retrieving(names)``) instead of
spelling arm names out; the names are stable keys (saved runs, job records, session state),
labels and icons are for people.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    name: str  # stable key: saved runs, job records and settings use it
    label: str  # what a person reads
    icon: str
    help: str
    retrieves: bool  # reads passages retrieved from the knowledge base
    uses_adapter: bool  # runs through the fine-tuned LoRA adapter
    reads_gold: bool = False  # handed the question's source document (needs it: evaluation only)

    @property
    def open_book(self) -> bool:
        """Reads passages, retrieved or given: its answer can be checked against them."""
        return self.retrieves or self.reads_gold


ARM_TABLE = (
    Arm("base", "Base", "🧊", "The model alone: what it already knows.", retrieves=False, uses_adapter=False),
    Arm("rag", "RAG", "📖", "The base model reading passages retrieved from the knowledge base (an open-book exam).",
        retrieves=True, uses_adapter=False),
    Arm("finetuned", "Fine-tuned", "🎓",
        "The model with a LoRA adapter trained on the documents (a specialist's training), no passages.",
        retrieves=False, uses_adapter=True),
    Arm("hybrid", "Hybrid", "🧬", "The fine-tuned model reading the retrieved passages too.",
        retrieves=True, uses_adapter=True),
    Arm("oracle", "Oracle (gold passage)", "🎯",
        "The base model given the best passages of the right document: RAG with perfect retrieval.",
        retrieves=False, uses_adapter=False, reads_gold=True),
)
ARMS_BY_NAME = {a.name: a for a in ARM_TABLE}


def known(names) -> list[str]:
    """The known arms among ``names``, in the table's order (unknown names dropped)."""
    return [a.name for a in ARM_TABLE if a.name in names]


def using_adapter(names) -> bool:
    """Whether any of these arms needs the fine-tuned adapter."""
    return any(ARMS_BY_NAME[n].uses_adapter for n in names if n in ARMS_BY_NAME)


def retrieving(names) -> bool:
    """Whether any of these arms reads retrieved passages."""
    return any(ARMS_BY_NAME[n].retrieves for n in names if n in ARMS_BY_NAME)
