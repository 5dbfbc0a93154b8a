"""The --max-cost limit: no request starts if it could push spending past it.

Before each request a worker reserves the request's estimated cost; the
reservation is replaced by the real cost when the answer arrives. A request may
start only while spent + reserved + its estimate stays within the limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Reservation:
    amount_micro: int


class Budget:
    """Spending of one run against an optional limit; shared by worker threads."""

    def __init__(self, limit_micro: int | None, spent_micro: int = 0) -> None:
        self.limit_micro = limit_micro
        self._spent = spent_micro
        self._reserved = 0
        # The estimate of the first request that did not fit, for the stop message.
        self.refused_micro = 0
        self._changed = threading.Condition()
        self.exhausted = threading.Event()

    @property
    def spent_micro(self) -> int:
        with self._changed:
            return self._spent

    def reserve(self, estimate_micro: int) -> Reservation | None:
        """Reserve ``estimate_micro``; None (and ``exhausted`` set) if it cannot fit.

        While other requests are in flight, their estimates may be far above what
        they will cost, so a request that does not fit waits for them to settle
        before the budget is called exhausted.
        """
        with self._changed:
            while not self._fits(estimate_micro):
                if self._reserved == 0 or self.exhausted.is_set():
                    if not self.exhausted.is_set():
                        self.refused_micro = estimate_micro
                    self.exhausted.set()
                    self._changed.notify_all()
                    return None
                self._changed.wait()
            self._reserved += estimate_micro
            return Reservation(estimate_micro)

    def _fits(self, estimate_micro: int) -> bool:
        if self.limit_micro is None:
            return True
        return self._spent + self._reserved + estimate_micro <= self.limit_micro

    def settle(self, reservation: Reservation, actual_micro: int) -> None:
        with self._changed:
            self._reserved -= reservation.amount_micro
            self._spent += actual_micro
            self._changed.notify_all()
