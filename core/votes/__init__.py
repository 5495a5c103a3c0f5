"""Stakeholder votes: blind answers on the compare page, the votes kept in SQLite, and what they say.

blind.py     the letters a question's answers are shown under, in a random order per question
record.py    one vote (``Vote``) and the rules a vote must follow
store.py     the votes in ``<data>/votes.db``
export.py    all votes as CSV or JSON bytes, and read back
pairwise.py  the pairwise outcomes a vote implies and the Bradley-Terry fit with bootstrap intervals
What the room thinks beside the key-fact scores of saved evaluations is ``core.eval.votes``.
"""
