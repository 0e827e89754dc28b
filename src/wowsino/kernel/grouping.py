"""Group commit for single writes: requests that arrive while a group is being written
wait for it to finish and then go together, in one transaction.

A lone request is written at once (no timer, no added latency); under load, up to
``in_flight`` groups of one key are written at a time and each carries what arrived
while the others were being written, so a stream of single writes costs about what
the same writes sent as batches cost. Each request still gets its
own answer, exactly as if it had been sent alone (``IdempotentWrites.run_group``).

Requests are grouped by a key (for the wager spine: tenant, mode, brand and service
mode); a group never mixes keys, and never holds one idempotency key twice (a repeat
waits for the next group, where it replays).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Process = Callable[[Hashable, list[Item]], Awaitable[list[Result | BaseException]]]


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    key: str
    future: asyncio.Future[Result]


@dataclass
class Coalescer(Generic[Item, Result]):
    """``submit`` an item under a group key; ``process`` writes a group and answers each
    item (a result, or the exception that item raises)."""

    process: Process[Item, Result]
    max_group: int = 256
    in_flight: int = 4  # groups of one key written at the same time
    groups: int = 0  # groups written, and the items they carried
    items: int = 0
    alone: int = 0  # items written again one at a time after their group failed as a whole
    _queues: dict[Hashable, deque[_Waiting[Item, Result]]] = field(default_factory=dict)
    _drains: dict[Hashable, set[asyncio.Task[None]]] = field(default_factory=dict)

    async def submit(self, group: Hashable, key: str, item: Item) -> Result:
        """``item``'s answer once its group is written; ``key`` is its idempotency key."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(group, deque()).append(_Waiting(item, key, future))
        drains = self._drains.setdefault(group, set())
        if len(drains) < self.in_flight:
            # a context of its own: the group is no one request's (its request id, its logs)
            drains.add(asyncio.create_task(self._drain(group), context=contextvars.Context()))
        # a waiter that goes away (its client disconnected) leaves its write to complete
        return await asyncio.shield(future)

    def _next_group(self, queue: deque[_Waiting[Item, Result]]) -> list[_Waiting[Item, Result]]:
        taken: list[_Waiting[Item, Result]] = []
        keys: set[str] = set()
        later: list[_Waiting[Item, Result]] = []
        while queue and len(taken) < self.max_group:
            waiting = queue.popleft()
            if waiting.key in keys:
                later.append(waiting)  # the same key twice: the next group replays it
                continue
            keys.add(waiting.key)
            taken.append(waiting)
        queue.extendleft(reversed(later))
        return taken

    async def _drain(self, group: Hashable) -> None:
        queue = self._queues[group]
        task = asyncio.current_task()
        try:
            while queue:
                taken = self._next_group(queue)
                self.groups += 1
                self.items += len(taken)
                try:
                    answers = await self.process(group, [w.item for w in taken])
                except BaseException as error:  # the group failed as a whole
                    answers = [error] * len(taken)
                    if not isinstance(error, Exception):
                        _answer(taken, answers)
                        raise
                _answer(taken, answers)
        finally:
            drains = self._drains[group]
            drains.discard(task)  # type: ignore[arg-type]
            if not drains:
                del self._drains[group]
                for waiting in queue:  # stopped by cancellation: nobody will write these
                    if not waiting.future.done():
                        waiting.future.set_exception(asyncio.CancelledError())
                del self._queues[group]


def _answer(taken: list[_Waiting[Item, Result]], answers: list[Result | BaseException]) -> None:
    for waiting, answer in zip(taken, answers, strict=True):
        if waiting.future.done():
            continue
        if isinstance(answer, BaseException):
            waiting.future.set_exception(answer)
        else:
            waiting.future.set_result(answer)
