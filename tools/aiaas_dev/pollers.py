"""What the event source pollers (S3 and SQS) share: a queue in moto they empty, stopping
them together, and waiting until the whole pipeline is quiet.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

STOP_TIMEOUT_S = 5.0
IDLE_POLL_S = 0.02
# Counts that say a queue still holds work: waiting, being handled, or sent with a delay.
_BUSY_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class EventPoller(Protocol):
    """A poller thread that invokes a function with what arrives on its queue."""

    def idle(self) -> bool:
        """Whether its queue holds no message, visible, in flight or delayed."""
        ...

    def stop(self, *, wait: bool = True, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop after the current poll and invocation."""
        ...


def queue_is_idle(sqs: Any, queue_url: str) -> bool:
    """Whether a queue holds no message: none visible, none in flight, none delayed.

    Args:
        sqs: A boto3 SQS client bound to moto.
        queue_url: The queue.
    """
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_BUSY_COUNTS))
    return all(int(attributes["Attributes"].get(name, 0)) == 0 for name in _BUSY_COUNTS)


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    """Call ``check`` until it returns true.

    Args:
        check: What to call.
        timeout_s: How long to keep trying.

    Returns:
        Whether it returned true in time.
    """
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(IDLE_POLL_S)
    return True


def wait_all_idle(pollers: Sequence[EventPoller], timeout_s: float, *, settle: int = 2) -> bool:
    """Wait until every poller is idle ``settle`` checks in a row.

    One round of checks can miss work a handler queued for a source checked earlier in the
    round (an SQS handler that uploads to S3 or sends to another queue); a second round in
    a row, all idle, cannot.

    Args:
        pollers: The pollers.
        timeout_s: How long to wait in all.
        settle: Rounds in a row with every poller idle.

    Returns:
        Whether the pipeline went quiet in time.
    """
    quiet = 0

    def settled() -> bool:
        nonlocal quiet
        quiet = quiet + 1 if all(poller.idle() for poller in pollers) else 0
        return quiet >= settle

    return wait_until(settled, timeout_s)


def stop_pollers(pollers: Iterable[EventPoller]) -> None:
    """Stop pollers together (each may be in a long poll), then wait for them."""
    pollers = list(pollers)
    for poller in pollers:
        poller.stop(wait=False)
    for poller in pollers:
        poller.stop()


class QueuePoller(ABC):
    """A thread that empties one moto queue: start, stop, and whether the queue is idle.

    Subclasses implement `_run`, the polling loop, and return from it once `_stopping` is
    set.
    """

    def __init__(self, sqs: Any, queue_url: str, thread_name: str) -> None:
        """Create the poller (call `start`).

        Args:
            sqs: A boto3 SQS client bound to moto.
            queue_url: The queue.
            thread_name: The polling thread's name.
        """
        self.sqs = sqs
        self.queue_url = queue_url
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    @abstractmethod
    def _run(self) -> None:
        """Poll until `_stopping` is set."""

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self, *, wait: bool = True, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop after the current poll and invocation (no more retries).

        Args:
            wait: Wait for the thread to end.
            timeout_s: How long to wait for it.
        """
        self._stopping.set()
        if wait and self._thread.is_alive():
            self._thread.join(timeout_s)

    def idle(self) -> bool:
        """Whether the queue holds no message: none visible, in flight or delayed."""
        return queue_is_idle(self.sqs, self.queue_url)

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until every message sent so far has been handled (deleted, dropped or moved
        to a dead-letter queue). moto queues an S3 notification while it answers the
        upload, so every upload made before the call is covered too.

        Args:
            timeout_s: How long to wait.

        Returns:
            Whether the queue emptied in time.
        """
        return wait_until(self.idle, timeout_s)
