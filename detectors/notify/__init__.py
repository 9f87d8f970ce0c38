"""Alert notification channels: pure payload builders per channel plus one `deliver`.

The alert engine builds a `Notification`, picks the `ChannelTarget`s of a rule and calls
`deliver` for each; everything else here is the wire format of one channel.
"""

from detectors.notify.deliver import channel_url, deliver
from detectors.notify.message import (
    ChannelTarget,
    Notification,
    format_condition,
    format_scope,
    format_value,
    metric_unit,
)
from detectors.notify.pagerduty import PAGERDUTY_EVENTS_URL, dedup_key, pagerduty_payload
from detectors.notify.slack import escape_mrkdwn, slack_payload
from detectors.notify.webhook import SIGNATURE_HEADER, sign_body, verify_signature, webhook_body

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "SIGNATURE_HEADER",
    "ChannelTarget",
    "Notification",
    "channel_url",
    "dedup_key",
    "deliver",
    "escape_mrkdwn",
    "format_condition",
    "format_scope",
    "format_value",
    "metric_unit",
    "pagerduty_payload",
    "sign_body",
    "slack_payload",
    "verify_signature",
    "webhook_body",
]
