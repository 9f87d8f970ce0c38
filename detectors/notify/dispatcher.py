"""Deliveries off the detector's thread: a slow or dead channel never holds up detectors or ingest.

Each delivery is recorded as pending before it is queued and finished with its outcome (after
the shared retry policy), so the delivery log shows what is in flight, what arrived and why
something did not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from detectors.notify.deliver import DEFAULT_POLICY, deliver
from detectors.notify.message import ChannelTarget, Notification
from detectors.outbound import HttpResult, RetryPolicy
from schemas.alerting import AlertStore

log = logging.getLogger(__name__)

Deliver = Callable[..., HttpResult]
TEST_POLICY = RetryPolicy(attempts=2, timeout=5.0, deadline=12.0)  # someone is waiting on the button


class Dispatcher:
    def __init__(self, alerts: AlertStore, policy: RetryPolicy = DEFAULT_POLICY, workers: int = 4,
                 send: Deliver = deliver) -> None:
        self.alerts, self.policy, self._send = alerts, policy, send
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llmpulse-notify")

    def notify(self, project: str, incident_id: int | None, channel_ids: Sequence[int],
               notification: Notification) -> list[Future[HttpResult]]:
        """Queue one notification per channel; returns futures that tests (and shutdown) can wait on."""
        futures = []
        for channel_id in channel_ids:
            delivery_id = self.alerts.add_delivery(project, incident_id, channel_id, notification.event)
            futures.append(self._pool.submit(self._deliver, project, channel_id, delivery_id, notification,
                                             self.policy))
        return futures

    def send_test(self, project: str, channel_id: int, notification: Notification) -> HttpResult:
        delivery_id = self.alerts.add_delivery(project, None, channel_id, notification.event)
        return self._deliver(project, channel_id, delivery_id, notification, TEST_POLICY)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

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
