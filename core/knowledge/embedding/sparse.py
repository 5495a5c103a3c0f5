"""BM25-style sparse vectors that Qdrant scores with its IDF modifier.

Hand-written because the library options do not fit offline use: Qdrant's and LlamaIndex's
default sparse encoders (SPLADE/BM25 via fastembed) download models from a hub. The tokenizer
splits Latin words and turns Hangul, Kana and Han runs into character bigrams (the approach of
Lucene's CJK analyzer), so keyword search works for Korean where the English-only dense
embedder does not.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from itertools import groupby

K1 = 1.2
B = 0.75
AVG_DOC_TOKENS = 120.0  # typical chunk length in tokens; only scales length normalisation

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i if in is it its my of on or our "
    "the this that to was what when where which who why will with you your".split()
)


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        if _CJK.search(word):
            tokens.extend(_cjk_tokens(word))
        elif word not in _STOPWORDS:
            tokens.append(word)
    return tokens


def _cjk_tokens(word: str) -> list[str]:
    # Split a mixed run into CJK and non-CJK parts; CJK parts become overlapping bigrams.
    out: list[str] = []
    for is_cjk, chars in groupby(word, key=lambda ch: bool(_CJK.match(ch))):
        part = "".join(chars)
        if is_cjk:
            out.extend([part] if len(part) == 1 else [part[i : i + 2] for i in range(len(part) - 1)])
        elif part not in _STOPWORDS:
            out.append(part)
    return out


def token_id(token: str) -> int:
    """Stable 31-bit id (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


def _vector(weights: dict[int, float]) -> tuple[list[int], list[float]]:
    ids = sorted(weights)
    return ids, [weights[i] for i in ids]


def encode_documents(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
    """BM25 term-frequency part per text; Qdrant multiplies in the IDF at query time."""
    indices, values = [], []
    for text in texts:
        tokens = tokenize(text)
        norm = K1 * (1 - B + B * len(tokens) / AVG_DOC_TOKENS)
        weights: dict[int, float] = {}
        for token, tf in Counter(tokens).items():
            tid = token_id(token)
            weights[tid] = weights.get(tid, 0.0) + tf * (K1 + 1) / (tf + norm)
        ids, vals = _vector(weights)
        indices.append(ids)
        values.append(vals)
    return indices, values


def encode_queries(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
    indices, values = [], []
    for text in texts:
        ids, vals = _vector({token_id(t): 1.0 for t in set(tokenize(text))})
        indices.append(ids)
        values.append(vals)
    return indices, values
