"""Repair crews: a first-come-first-served counting resource per pod."""

from __future__ import annotations

from collections import deque

import simpy


class Crews:
    """Repair crews of one pod: a FIFO counting resource, semantically simpy.Resource(capacity)
    (tested against it), but a free crew is taken without scheduling an event, which halves
    the cost of a repair in long runs."""

    __slots__ = ("busy", "capacity", "env", "queue")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.queue: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event | None:
        """None if a crew was free (and is now taken), else an event that fires when one is."""
        if self.busy < self.capacity:
            self.busy += 1
            return None
        event = self.env.event()
        self.queue.append(event)
        return event

    def release(self) -> None:
        if self.queue:
            self.queue.popleft().succeed()  # the crew goes straight to the next in line
        else:
            self.busy -= 1
