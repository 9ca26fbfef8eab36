"""A cost-based leaky bucket, the rate limiter behind the sandbox's product APIs.

Shopify's GraphQL Admin API is the model: a bucket of `capacity` points that refills at
`restore_rate` points per second of `clock`; a request takes its cost up front and may be refunded
part of it afterwards (requested − actual). Other APIs can use it with a cost of 1 per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LeakyBucket:
    """`capacity` points, refilled continuously at `restore_rate` points per second of `clock`."""

    def __init__(self, capacity: float, restore_rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if capacity <= 0 or restore_rate <= 0:
            raise ValueError("capacity and restore_rate must be positive")
        self.capacity = float(capacity)
        self.restore_rate = float(restore_rate)
        self._clock = clock
        self._available = float(capacity)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        # A clock that steps backwards (a test's fake clock being reset) must not drain the bucket.
        elapsed = max(0.0, now - self._at)
        self._available = min(self.capacity, self._available + elapsed * self.restore_rate)
        self._at = now

    @property
    def available(self) -> float:
        """Points available right now."""
        with self._lock:
            self._refill()
            return self._available

    def try_take(self, cost: float) -> bool:
        """Take `cost` points if that many are available; False (and nothing taken) otherwise."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        """Give back points taken earlier (never above capacity)."""
        with self._lock:
            self._refill()
            self._available = min(self.capacity, self._available + max(0.0, points))

    def seconds_until(self, cost: float) -> float:
        """How long until `cost` points are available (0 if they are now)."""
        with self._lock:
            self._refill()
            return max(0.0, (cost - self._available) / self.restore_rate)
