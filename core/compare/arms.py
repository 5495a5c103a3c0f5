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
    called: str  # how a sentence names it: "RAG answered 62% ... against 15% for the fine-tuned model"
    color: str  # its colour in every chart
    approach: str | None = None  # the approach it stands for when a recommendation names one ("Fine-tuning")
    reads_gold: bool = False  # handed the question's source document (needs it: evaluation only)

    @property
    def open_book(self) -> bool:
        """Reads passages, retrieved or given: its answer can be checked against them."""
        return self.retrieves or self.reads_gold


ARM_TABLE = (
    Arm("base", "Base", "🧊", "The model alone: what it already knows.", retrieves=False, uses_adapter=False,
        called="the base model", color="#9ca3af"),
    Arm("rag", "RAG", "📖", "The base model reading passages retrieved from the knowledge base (an open-book exam).",
        retrieves=True, uses_adapter=False, called="RAG", color="#2563eb", approach="RAG"),
    Arm("finetuned", "Fine-tuned", "🎓",
        "The model with a LoRA adapter trained on the documents (a specialist's training), no passages.",
        retrieves=False, uses_adapter=True, called="the fine-tuned model", color="#d97706", approach="Fine-tuning"),
    Arm("hybrid", "Hybrid", "🧬", "The fine-tuned model reading the retrieved passages too.",
        retrieves=True, uses_adapter=True, called="the hybrid", color="#7c3aed", approach="Hybrid"),
    Arm("oracle", "Oracle (gold passage)", "🎯",
        "The base model given the best passages of the right document: RAG with perfect retrieval.",
        retrieves=False, uses_adapter=False, called="the oracle (gold passage)", color="#059669", reads_gold=True),
)
BASE, RAG, FINETUNED, HYBRID, ORACLE = ARM_TABLE  # for code about one arm in particular (the decision's criteria)
ARMS_BY_NAME = {a.name: a for a in ARM_TABLE}


def label(name: str) -> str:
    """What a person reads for the arm ``name``; the name itself for one this table does not know."""
    arm = ARMS_BY_NAME.get(name)
    return arm.label if arm else name


def called(name: str) -> str:
    """How a sentence names the arm ``name``; the name itself for one this table does not know."""
    arm = ARMS_BY_NAME.get(name)
    return arm.called if arm else name


def known(names) -> list[str]:
    """The known arms among ``names``, in the table's order (unknown names dropped)."""
    return [a.name for a in ARM_TABLE if a.name in names]


def using_adapter(names) -> bool:
    """Whether any of these arms needs the fine-tuned adapter."""
    return any(ARMS_BY_NAME[n].uses_adapter for n in names if n in ARMS_BY_NAME)


def retrieving(names) -> bool:
    """Whether any of these arms reads retrieved passages."""
    return any(ARMS_BY_NAME[n].retrieves for n in names if n in ARMS_BY_NAME)
