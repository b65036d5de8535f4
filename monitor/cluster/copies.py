"""Copies: which earlier article (if any) this article is an exact or near duplicate of.

``CopyDetector.check(article_id, text, at)`` fingerprints the normalised text (``signature.py``), looks
up the exact digest and the LSH band candidates in the store, keeps candidates published within
``window_s`` of ``at`` whose estimated Jaccard similarity is at least ``threshold``, and puts the article
in the copy group of the best one: highest similarity, then earliest (article time, id). No candidate:
the article starts a group named by its own id. So a group is named by its first article, and the same
articles in the same order always give the same groups.

Processing an article id twice (a redelivery) returns the group it got the first time and changes
nothing. A text with no words is never a copy (its group is its own id) and is not indexed.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.cluster.memory_store import ClusterStore
from monitor.cluster.records import CopyEntry
from monitor.cluster.signature import Fingerprint, band_shape, fingerprint, similarity


@dataclass(frozen=True, slots=True)
class CopyDecision:
    """The copy group of one article and why."""

    article_id: str
    copy_group: str  # the id of the group's first article; the article's own id when it is the first
    duplicate_of: str | None = None  # the earlier article it matched, None when it starts a group
    similarity: float = 0.0  # estimated Jaccard with ``duplicate_of`` (1.0 for an exact duplicate)
    exact: bool = False

    @property
    def is_copy(self) -> bool:
        return self.duplicate_of is not None


class CopyDetector:
    """Near-duplicate grouping over a ``ClusterStore``; see the module doc."""

    def __init__(
        self,
        store: ClusterStore,
        *,
        threshold: float = 0.8,
        window_s: float = 48 * 3600,
        shingle_words: int = 5,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"copy threshold must be in (0, 1], not {threshold}")
        if window_s <= 0:
            raise ValueError(f"copy window must be positive, not {window_s}")
        self.store = store
        self.threshold = threshold
        self.window_s = window_s
        self.shingle_words = shingle_words
        self.bands, self.rows = band_shape(min(threshold, 0.99))

    def fingerprint(self, text: str) -> Fingerprint:
        """The fingerprint ``check`` uses (for a caller that reads the store ahead for many articles)."""
        return fingerprint(text, k=self.shingle_words, bands=self.bands, rows=self.rows)

    def check(self, article_id: str, text: str, at: float, fp: Fingerprint | None = None) -> CopyDecision:
        """Group one article (``at``: its time in unix seconds; see ``article_time``) and remember it.
        ``fp``: ``self.fingerprint(text)`` when the caller has it already."""
        self.store.advance(at)
        if fp is None:
            fp = self.fingerprint(text)
        if not fp.digest:
            return CopyDecision(article_id, article_id)
        own, exact, candidates = self.store.copy_lookup(article_id, fp.digest, fp.bands)
        if own is not None:  # seen before: answer as then
            return CopyDecision(own.article_id, own.group, own.duplicate_of or None, own.similarity, own.exact)
        decision = self._decide(article_id, at, fp.signature, exact, candidates)
        entry = CopyEntry(
            article_id,
            at,
            decision.copy_group,
            fp.signature,
            decision.duplicate_of or "",
            decision.similarity,
            decision.exact,
        )
        self.store.copy_add(entry, fp.digest, fp.bands, at + self.window_s)
        return decision

    def _in_window(self, e: CopyEntry, at: float) -> bool:
        return abs(at - e.at) <= self.window_s

    def _decide(
        self,
        article_id: str,
        at: float,
        signature: bytes,
        exact: CopyEntry | None,
        candidates: list[CopyEntry],
    ) -> CopyDecision:
        if exact is not None and exact.article_id != article_id and self._in_window(exact, at):
            return CopyDecision(article_id, exact.group, exact.article_id, 1.0, exact=True)
        best: tuple[float, float, str, CopyEntry] | None = None
        for e in candidates:
            if e.article_id == article_id or not self._in_window(e, at):
                continue
            sim = similarity(signature, e.signature)
            if sim < self.threshold:
                continue
            key = (-sim, e.at, e.article_id, e)
            if best is None or key[:3] < best[:3]:
                best = key
        if best is None:
            return CopyDecision(article_id, article_id)
        e = best[3]
        return CopyDecision(article_id, e.group, e.article_id, -best[0])
