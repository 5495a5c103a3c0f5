"""The pairwise outcomes a vote implies, and each arm's strength fitted to them (Bradley-Terry).

A vote names a best set B among the shown arms S:
- each arm in B beats each arm in S minus B;
- the arms in B tie with each other;
- "all bad": every pair of shown arms ties;
- two arms that were both passed over are not compared (the viewer said nothing about them).
A tie is a tie, never a loss for either side: Open WebUI's arena records two thumbs-up as a loss
(its issue #6643), which punishes an arm for being as good as another.

The model: Bradley-Terry, P(i beats j) = p_i / (p_i + p_j), with a tie counted as half a win each
way (as chess ratings and Chatbot Arena do). Davidson's extension would fit one more parameter,
the tie propensity; thirty votes from a room of five cannot pin it down, and half a win each way
keeps ties as ties with one number per arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from core.compare.arms import known
from core.votes.record import Vote

PRIOR_TIES = 1.0  # one virtual tie in every pair: see bradley_terry
RESAMPLES = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class Outcome:
    first: str
    second: str
    score: float  # for ``first``: 1.0 it beat ``second``, 0.5 a tie (a loss is written the other way round)


def outcomes(vote: Vote) -> list[Outcome]:
    """The pairwise outcomes ``vote`` implies (see the module's docstring)."""
    shown = vote.shown
    best = [] if vote.all_bad else [a for a in shown if a in vote.best]
    rest = [a for a in shown if a not in best]
    tied = shown if vote.all_bad else best
    out = [Outcome(b, s, 1.0) for b in best for s in rest]
    out += [Outcome(a, b, 0.5) for i, a in enumerate(tied) for b in tied[i + 1:]]
    return out


def score_matrices(votes: list[Vote], arms: list[str]) -> np.ndarray:
    """Per vote, the matrix ``m[i, j]``: what arm i scored against arm j (a win 1, a tie 0.5 each way)."""
    index = {a: i for i, a in enumerate(arms)}
    m = np.zeros((len(votes), len(arms), len(arms)))
    for v, vote in enumerate(votes):
        for o in outcomes(vote):
            i, j = index[o.first], index[o.second]
            m[v, i, j] += o.score
            m[v, j, i] += 1.0 - o.score
    return m


def bradley_terry(scores: np.ndarray, prior_ties: float = PRIOR_TIES, tol: float = 1e-10,
                  max_iter: int = 10_000) -> np.ndarray:
    """Strengths (summing to 1) fitted to ``scores[..., i, j]`` (what i scored against j), for one
    matrix or a stack of them (the bootstrap fits all resamples at once).

    Hunter's MM iteration (2004): p_i <- W_i / sum_j N_ij / (p_i + p_j), where W_i is what arm i
    scored and N_ij the comparisons of i and j; it raises the likelihood at every step and needs
    no step size, and on a stack of 4 x 4 matrices it is a few array operations per step, where a
    general optimiser (scipy.optimize) would run once per resample. ``prior_ties`` adds that many
    virtual ties to every pair: without them an arm that never lost gets an infinite strength
    (no maximum exists), and a handful of votes would read as certainty.
    """
    n = scores.shape[-1]
    w = scores + prior_ties / 2 * (1 - np.eye(n))
    games = w + np.swapaxes(w, -1, -2)
    won = w.sum(axis=-1)
    p = np.full(scores.shape[:-1], 1.0 / n)
    for _ in range(max_iter):
        pair = p[..., :, None] + p[..., None, :]
        new = won / (games / pair).sum(axis=-1)
        new /= new.sum(axis=-1, keepdims=True)
        if np.max(np.abs(new - p)) < tol:
            return new
        p = new
    return p


def win_rates(strengths: np.ndarray) -> np.ndarray:
    """Per arm, its chance to beat another arm drawn at random: the mean of p_i / (p_i + p_j) over j != i."""
    n = strengths.shape[-1]
    pair = strengths[..., :, None] / (strengths[..., :, None] + strengths[..., None, :])
    return (pair.sum(axis=-1) - 0.5) / (n - 1)  # the diagonal adds p_i / 2p_i = 0.5


class Standing(BaseModel):
    arm: str
    win_rate: float  # chance to be preferred to another arm drawn at random (Bradley-Terry)
    low: float  # 95% bootstrap interval over votes
    high: float
    strength: float  # Bradley-Terry strength, the arms' summing to 1
    shown: int  # votes in which its answer was shown
    best: int  # votes in which it was voted best (alone or equally good)


def standings(votes: list[Vote], resamples: int = RESAMPLES, seed: int = 0) -> list[Standing]:
    """Each arm that was shown, strongest first, with its win rate and a percentile bootstrap
    interval (votes resampled with replacement, fixed ``seed``: the same votes give the same numbers)."""
    arms = known({a for v in votes for a in v.shown})
    if len(arms) < 2:
        return []
    per_vote = score_matrices(votes, arms)
    strength = bradley_terry(per_vote.sum(axis=0))
    rate = win_rates(strength)
    draws = np.random.default_rng(seed).multinomial(len(votes), np.full(len(votes), 1 / len(votes)), size=resamples)
    boot = win_rates(bradley_terry(np.einsum("bv,vij->bij", draws, per_vote)))
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(boot, tail, axis=0), np.percentile(boot, 100 - tail, axis=0)
    out = [Standing(arm=a, win_rate=float(rate[i]), low=float(low[i]), high=float(high[i]),
                    strength=float(strength[i]), shown=sum(a in v.shown for v in votes),
                    best=sum(a in v.best for v in votes)) for i, a in enumerate(arms)]
    return sorted(out, key=lambda s: -s.win_rate)
