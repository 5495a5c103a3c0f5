"""Passages out of a knowledge base: hybrid or dense search and the evaluation's gold passages
(``search``), and a passage's sentences with the one closeness measure and marking rule
(``sentences``; the answer-support check, ``core.compare.support``, builds on them)."""
