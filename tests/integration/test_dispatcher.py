"""The notifier's dispatcher against a real metadata DB and a local receiver: test sends run on a pool
of their own, one in flight per channel, so a hung endpoint under test never delays a real alert."""

from __future__ import annotations

import threading

from detectors.notify.dispatcher import Dispatcher
from detectors.outbound import RetryPolicy
from schemas.metadata.alert_store import AlertStore
from schemas.metadata.secrets import SecretBox
from schemas.metadata.store import Metadata
from tests.conftest import wait_for
from tests.receiver import Receiver, Recorded, Reply
from tests.unit.detectors.test_notify_slack import make_notification

PROJECT = "checkout"
MS = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=30.0, deadline=60.0)


def store_with_channels(metadata: Metadata, receiver: Receiver, *names: str) -> tuple[AlertStore, list[int]]:
    metadata.ensure_project(PROJECT)
    alerts = AlertStore(metadata, SecretBox("test-key"))
    ids = [alerts.create_channel(PROJECT, "slack", n, {"url": f"{receiver.url}/{n}"}, "127.0.0.1") for n in names]
    return alerts, ids


def test_a_hung_test_send_is_joined_and_never_delays_a_real_delivery(metadata: Metadata, receiver: Receiver) -> None:
    release = threading.Event()

    def hang_only_the_tested(recorded: Recorded) -> Reply:
        return Reply(200, until=release) if recorded.path == "/tested" else Reply(200)

    receiver.responder = hang_only_the_tested
    alerts, (tested, paged) = store_with_channels(metadata, receiver, "tested", "paged")
    dispatcher = Dispatcher(alerts, policy=MS, workers=1, test_policy=MS, test_workers=1)
    try:
        first = dispatcher.send_test(PROJECT, tested, make_notification(event="test"))
        receiver.wait_for(1)  # the endpoint holds it now
        again = dispatcher.send_test(PROJECT, tested, make_notification(event="test"))
        assert (again.joined, again.delivery_id, again.future) == (True, first.delivery_id, first.future)
        (page,) = dispatcher.notify(PROJECT, None, [paged], make_notification())
        assert page.result(timeout=30).ok  # the one delivery worker was free: the test has its own
        assert not first.future.done()
    finally:
        release.set()
    assert first.future.result(timeout=30).ok
    dispatcher.close()
    assert [r.path for r in receiver.requests] == ["/tested", "/paged"]
    log = alerts.list_deliveries(PROJECT)
    assert [(d["channel_id"], d["event"], d["status"]) for d in log] == [(paged, "firing", "sent"),
                                                                        (tested, "test", "sent")]


def test_a_500_is_retried_with_millisecond_backoff(metadata: Metadata, receiver: Receiver) -> None:
    receiver.script = [Reply(500, "oops"), Reply(503, "busy")]
    alerts, (channel,) = store_with_channels(metadata, receiver, "flaky")
    dispatcher = Dispatcher(alerts, policy=MS)
    (sent,) = dispatcher.notify(PROJECT, None, [channel], make_notification())
    assert (sent.result(timeout=30).ok, sent.result().attempts) == (True, 3)
    dispatcher.close()
    (delivery,) = alerts.list_deliveries(PROJECT, channel)
    assert (delivery["status"], delivery["http_status"], delivery["attempts"]) == ("sent", 200, 3)


def test_closing_drops_queued_test_sends_and_logs_them(metadata: Metadata, receiver: Receiver) -> None:
    release = threading.Event()
    receiver.default = Reply(200, until=release)
    alerts, (held, queued) = store_with_channels(metadata, receiver, "held", "queued")
    dispatcher = Dispatcher(alerts, test_policy=MS, test_workers=1)
    running = dispatcher.send_test(PROJECT, held, make_notification(event="test"))
    receiver.wait_for(1)
    waiting = dispatcher.send_test(PROJECT, queued, make_notification(event="test"))
    closing = threading.Thread(target=dispatcher.close)
    closing.start()
    try:
        wait_for(waiting.future.cancelled, 10, "the queued test was not cancelled")
    finally:
        release.set()
    closing.join(timeout=30)
    assert not closing.is_alive() and running.future.result().ok
    assert [r.path for r in receiver.requests] == ["/held"]
    (dropped,) = alerts.list_deliveries(PROJECT, queued)
    assert (dropped["status"], dropped["attempts"], dropped["error"]) == (
        "failed", 0, "not sent: the service stopped first")


