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
    def __init__(self, limit_micro: int | None, spent_micro: int = 0) -> None:
        self.limit_micro = limit_micro
        self._spent = spent_micro
        self._reserved = 0
        # The estimate of the first request that did not fit, for the stop message.
        self.refused_micro = 0
        self._lock = threading.Lock()
        self.exhausted = threading.Event()

    @property
    def spent_micro(self) -> int:
        with self._lock:
            return self._spent

    def reserve(self, estimate_micro: int) -> Reservation | None:
        """Reserve ``estimate_micro``; None (and ``exhausted`` set) if it does not fit."""
        with self._lock:
            if self.limit_micro is not None and (
                self._spent + self._reserved + estimate_micro > self.limit_micro
            ):
                if not self.exhausted.is_set():
                    self.refused_micro = estimate_micro
                self.exhausted.set()
                return None
            self._reserved += estimate_micro
            return Reservation(estimate_micro)

    def settle(self, reservation: Reservation, actual_micro: int) -> None:
        with self._lock:
            self._reserved -= reservation.amount_micro
            self._spent += actual_micro
