"""How a tick gathers S3 event messages (event_queue.gather), on a scripted clock: when the
messages arrive decides how many one tick takes, so how many runs a burst becomes."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest_pipeline.resources.event_queue import GATHER_PAUSE_SECONDS, QueueMessage, gather


@dataclass
class ScriptedQueue:
    """Messages that become visible at given times; time moves only by waits and pauses."""

    arrivals: list[float]
    now: float = 0.0
    waits: list[int] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds

    def receive_batch(self, limit: int, wait_seconds: int) -> list[QueueMessage]:
        self.waits.append(wait_seconds)
        visible = [t for t in self.arrivals if t <= self.now]
        if not visible and wait_seconds:
            upcoming = [t for t in self.arrivals if t <= self.now + wait_seconds]
            # a long poll returns as soon as a message is there, else after its whole wait
            self.now = min(upcoming) if upcoming else self.now + wait_seconds
            visible = [t for t in self.arrivals if t <= self.now]
        taken = sorted(visible)[: min(limit, 10)]
        for t in taken:
            self.arrivals.remove(t)
        self.now += 0.005  # one request's round trip
        return [QueueMessage(f"handle-{t}", f"body-{t}") for t in taken]


def gathered(queue: ScriptedQueue, max_messages: int = 500, quiet: float = 0.3) -> int:
    messages = gather(
        queue.receive_batch,
        max_messages,
        first_wait_seconds=4,
        quiet_seconds=quiet,
        budget_seconds=20,
        clock=queue.clock,
        pause=queue.pause,
    )
    return len(messages)


def test_a_lone_upload_waits_only_the_quiet_time_after_it_arrives() -> None:
    queue = ScriptedQueue(arrivals=[1.5])
    assert gathered(queue) == 1
    # arrived during the long poll at 1.5 s, then 0.3 s of quiet (give or take one pause)
    assert 1.8 <= queue.now <= 1.8 + GATHER_PAUSE_SECONDS + 0.02, queue.now
    assert queue.waits[0] == 4 and set(queue.waits[1:]) == {0}


def test_a_burst_with_gaps_shorter_than_the_quiet_time_is_one_tick() -> None:
    # 200 uploads, one every 20 ms, then a pause of 0.25 s, then 50 more
    burst = [1.0 + i * 0.02 for i in range(200)] + [5.25 + i * 0.02 for i in range(50)]
    queue = ScriptedQueue(arrivals=burst)
    assert gathered(queue) == 250


def test_a_gap_longer_than_the_quiet_time_ends_the_tick_and_leaves_the_rest_queued() -> None:
    queue = ScriptedQueue(arrivals=[1.0, 1.1, 1.2, 2.0, 2.1])
    assert gathered(queue) == 3
    assert len(queue.arrivals) == 2  # for the next tick


def test_a_backlog_is_read_without_pauses_up_to_the_cap() -> None:
    queue = ScriptedQueue(arrivals=[0.0] * 95)
    assert gathered(queue, max_messages=40) == 40
    assert queue.now < 0.1  # 4 polls of 10, no pause between them
    assert len(queue.arrivals) == 55


def test_an_empty_queue_returns_after_the_long_poll_alone() -> None:
    queue = ScriptedQueue(arrivals=[])
    assert gathered(queue) == 0
    assert queue.waits == [4]


def test_a_longer_quiet_time_gathers_across_a_longer_gap() -> None:
    assert gathered(ScriptedQueue(arrivals=[1.0, 1.8]), quiet=1.0) == 2
    assert gathered(ScriptedQueue(arrivals=[1.0, 1.8]), quiet=0.3) == 1
