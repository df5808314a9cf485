from __future__ import annotations

from contracttape.matching import InteractionIndex, RequestShape
from contracttape.model import Interaction, RecordedRequest, RecordedResponse

POLL = RecordedRequest("GET", "http://h.test/jobs/1")


def interactions() -> list[Interaction]:
    return [
        Interaction(RecordedRequest("POST", "http://h.test/jobs"), RecordedResponse(201, body=b"created")),
        Interaction(POLL, RecordedResponse(200, body=b"PENDING")),
        Interaction(POLL, RecordedResponse(200, body=b"COMPLETED")),
    ]


def test_identical_requests_replay_in_recorded_order_then_run_out() -> None:
    index = InteractionIndex(interactions())
    poll = RequestShape.of(POLL)
    assert [index.take(poll)[1].response.body for _ in range(2)] == [b"PENDING", b"COMPLETED"]  # type: ignore[index]
    assert index.take(poll) is None
    assert index.times_recorded(poll) == 2
    assert index.unused() == [0]


def test_repeats_serve_the_last_recording_when_allowed() -> None:
    index = InteractionIndex(interactions(), allow_repeats=True)
    poll = RequestShape.of(POLL)
    bodies = [index.take(poll)[1].response.body for _ in range(4)]  # type: ignore[index]
    assert bodies == [b"PENDING", b"COMPLETED", b"COMPLETED", b"COMPLETED"]


def test_closest_ranks_by_fewest_failed_matchers() -> None:
    index = InteractionIndex(interactions())
    closest = index.closest(RequestShape.of(RecordedRequest("GET", "http://h.test/jobs/2")))
    assert [c.position for c in closest] == [1, 2, 0]
    assert [m.matcher for m in closest[0].mismatches] == ["path"]
