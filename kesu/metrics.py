"""Prometheus metrics (process-wide, exposed at ``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_RECEIVED = Counter(
    "kesu_events_received_total", "Webhook deliveries and other events accepted", ["source"]
)
WEBHOOKS_REJECTED = Counter(
    "kesu_webhooks_rejected_total", "Webhook deliveries refused", ["status"]
)
WEBHOOKS_DUPLICATE = Counter("kesu_webhooks_duplicate_total", "Deliveries seen before")
REJECTED_DROPPED = Counter(
    "kesu_rejected_dropped_total",
    "What was not kept of rejected deliveries: body bytes cut off, rows deleted (budget or age)", ["what"],
)
EVENTS_PROCESSED = Counter("kesu_events_processed_total", "Events processed", ["outcome"])
EVENTS_FAILED = Counter("kesu_events_failed_total", "Processing attempts that failed", ["error"])
EVENTS_RETRIED = Counter("kesu_events_retried_total", "Events put back for a later retry")
EVENTS_DEAD = Counter("kesu_events_dead_total", "Events dead-lettered after too many tries")
PLUGIN_ERRORS = Counter("kesu_plugin_errors_total", "Plugin hook failures", ["plugin", "hook"])
HELPDESK_CALLS = Counter("kesu_helpdesk_calls_total", "Write calls made to the helpdesk")
TIMERS_FIRED = Counter("kesu_timers_fired_total", "Timers turned into events")
PROCESSING_SECONDS = Histogram(
    "kesu_processing_seconds", "Time to process one claimed ticket (read, decide, write)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TIMER_DELAY_SECONDS = Histogram(
    "kesu_timer_delay_seconds", "From a timer's due time to its effect being applied",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)
INBOX_DEPTH = Gauge("kesu_inbox_depth", "Events waiting or in progress")
BOT_POSTS = Counter(
    "kesu_bot_posts_total", "Posts to group bots (WeCom, DingTalk, Feishu) by outcome",
    ["kind", "outcome"],  # outcome: sent | rate_limited | error | failed (given up)
)
