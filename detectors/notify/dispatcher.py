"""Deliveries off the detector's thread: a slow or dead channel never holds up detectors or ingest.

Each delivery is recorded as pending before it is queued and finished with its outcome (after
the shared retry policy), so the delivery log shows what is in flight, what arrived and why
something did not.

Test sends ("send test" in the UI and the API) run on a small pool of their own, never on a UI
thread: a person clicking at a hung endpoint must neither hold the web server's threads nor take
the workers a real page to PagerDuty needs. At most one test per channel is in flight; another
click joins it instead of stacking more requests on an endpoint that is already not answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from detectors.notify.deliver import DEFAULT_POLICY, deliver
from detectors.notify.message import ChannelTarget, Notification
from detectors.outbound import HttpResult, RetryPolicy
from schemas.metadata.alert_store import AlertStore

log = logging.getLogger(__name__)

Deliver = Callable[..., HttpResult]
TEST_POLICY = RetryPolicy(attempts=2, timeout=5.0, deadline=12.0)  # someone is waiting on the button
TEST_WORKERS = 2


@dataclass(frozen=True)
class ChannelTest:
    """A test delivery in flight (or done): its row in the delivery log and its outcome to come.

    `joined` says the request found a test to the same channel already in flight and got that one.
    """

    delivery_id: int
    future: Future[HttpResult]
    joined: bool = False


class Dispatcher:
    def __init__(self, alerts: AlertStore, policy: RetryPolicy = DEFAULT_POLICY, workers: int = 4,
                 send: Deliver = deliver, test_policy: RetryPolicy = TEST_POLICY,
                 test_workers: int = TEST_WORKERS) -> None:
        self.alerts, self.policy, self.test_policy, self._send = alerts, policy, test_policy, send
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llmpulse-notify")
        self._test_pool = ThreadPoolExecutor(max_workers=test_workers, thread_name_prefix="llmpulse-notify-test")
        self._tests: dict[tuple[str, int], ChannelTest] = {}
        self._tests_lock = threading.Lock()

    def notify(self, project: str, incident_id: int | None, channel_ids: Sequence[int],
               notification: Notification) -> list[Future[HttpResult]]:
        """Queue one notification per channel; returns futures that tests (and shutdown) can wait on."""
        futures = []
        for channel_id in channel_ids:
            delivery_id = self.alerts.add_delivery(project, incident_id, channel_id, notification.event)
            futures.append(self._pool.submit(self._deliver, project, channel_id, delivery_id, notification,
                                             self.policy))
        return futures

    def send_test(self, project: str, channel_id: int, notification: Notification) -> ChannelTest:
        """Queue a test to one channel, or join the one already in flight there; never waits for it."""
        key = (project, channel_id)
        with self._tests_lock:
            running = self._tests.get(key)
            if running is not None:
                return replace(running, joined=True)
            delivery_id = self.alerts.add_delivery(project, None, channel_id, notification.event)
            future = self._test_pool.submit(self._deliver, project, channel_id, delivery_id, notification,
                                            self.test_policy)
            self._tests[key] = sent = ChannelTest(delivery_id, future)
        future.add_done_callback(lambda _: self._forget_test(key, future))
        return sent

    def close(self) -> None:
        """Real deliveries are finished; queued test sends are dropped (and logged as such), so a
        row of clicks at hung endpoints cannot hold up a shutdown for their whole timeouts."""
        self._cancel_queued_tests()
        self._test_pool.shutdown(wait=True, cancel_futures=False)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _cancel_queued_tests(self) -> None:
        with self._tests_lock:
            queued = list(self._tests.values())
        for test in queued:  # outside the lock: a cancelled future runs its done callback right here
            if test.future.cancel():
                self.alerts.finish_delivery(test.delivery_id, False, None, 0, "not sent: the service stopped first")

    def _forget_test(self, key: tuple[str, int], future: Future[HttpResult]) -> None:
        """A finished test frees its channel for the next one."""
        with self._tests_lock:
            if key in self._tests and self._tests[key].future is future:
                del self._tests[key]

    def _deliver(self, project: str, channel_id: int, delivery_id: int, notification: Notification,
                 policy: RetryPolicy) -> HttpResult:
        try:
            result = self._send(self._target(project, channel_id), notification, policy=policy)
        except Exception as exc:  # a bug in a payload builder must not kill the pool's thread
            log.exception("delivery %s failed", delivery_id)
            result = HttpResult(False, None, 0, f"{type(exc).__name__}: {exc}", "", 0.0)
        self.alerts.finish_delivery(delivery_id, result.ok, result.status, result.attempts, result.error)
        return result

    def _target(self, project: str, channel_id: int) -> ChannelTarget:
        found = self.alerts.channel_secrets(project, channel_id)
        if found is None:
            return ChannelTarget(type="deleted", url="", name=f"channel {channel_id}")
        info, secrets = found
        return ChannelTarget(type=info["type"], url=secrets.get("url", ""), name=info["name"],
                             routing_key=secrets.get("routing_key", ""), secret=secrets.get("secret", ""))
