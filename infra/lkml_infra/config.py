# SPDX-License-Identifier: GPL-2.0-or-later
"""What differs between the dev, staging and prod deployments, in one table.

Everything else (keys, handlers, schedules) is the same in every environment; a new setting that
must differ belongs here rather than in an ``if env == ...`` inside a construct.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aws_cdk import aws_logs as logs

ENVIRONMENTS = ("dev", "staging", "prod")
DEFAULT_PROJECTS = "rust-for-linux,netfilter-devel"


@dataclass(frozen=True)
class EnvConfig:
    name: str
    memory_mb: int
    api_memory_mb: int
    on_demand: bool
    """DynamoDB PAY_PER_REQUEST; False means PROVISIONED with autoscaling. Prod is on demand
    too, with throughput caps: docs/aws.md, "Prod capacity", shows why provisioned capacity
    cannot be made safe for its peaks at a price under the target."""
    max_read_request_units: int
    """On demand: the most read request units per second a table (and each index) may use;
    above it requests are throttled: a ceiling on a runaway loop's bill."""
    max_write_request_units: int
    min_read_capacity: int
    max_read_capacity: int
    min_write_capacity: int
    max_write_capacity: int
    tracing: bool
    """X-Ray: Active tracing on the functions and the API stage."""
    api_snap_start: bool
    """Lambda SnapStart on the API function (served through its ``live`` alias): a cold
    start restores a snapshot taken after the imports instead of running them (about
    0.4 s with the X-Ray SDK, ``make bench``). The scheduled jobs do without: nobody waits
    on their cold starts."""
    log_level: str
    retain: bool
    """Deletion protection and RemovalPolicy.RETAIN on the tables (and the logs)."""
    log_retention: logs.RetentionDays
    retention_days: int
    """LKML_RETENTION_DAYS: items expire this many days after their date; 0 keeps them."""
    api_rate_limit: float
    api_burst_limit: int
    api_waf_rate_limit: int | None
    """Requests per IP in any 5 minutes before a WAF rate-based rule blocks the address
    (WAFv2 web ACL on the API stage); None: no web ACL."""
    lore_requests_per_minute: int
    """LKML_LORE_REQUESTS_PER_MINUTE: lore requests of all invocations together per minute."""
    api_reserved_concurrency: int
    """The API's own share of the account's Lambda concurrency: a burst of readers cannot
    take the jobs' (nor the jobs the API's). Stage throttling keeps it below this in practice:
    the rate limit times a request's ~0.1-0.5 s."""
    alarm_email: str | None = None
    """Who hears the alarms (an SNS e-mail subscription, confirmed once by its owner). The
    deploy workflow passes each GitHub environment's ALARM_EMAIL as ``-c alarm_email=``."""
    alarm_webhook_url: str | None = None
    """A chat webhook (an HTTPS endpoint that confirms SNS subscriptions, e.g. a Chatbot or
    Slack relay), from ``-c alarm_webhook_url=`` (ALARM_WEBHOOK_URL)."""

    def with_alarm_subscriptions(
        self, *, email: str | None = None, webhook_url: str | None = None
    ) -> EnvConfig:
        """This configuration with the subscriptions given at synthesis (context) added."""
        if webhook_url and not webhook_url.startswith("https://"):
            raise ValueError(f"alarm_webhook_url must be an https:// URL, not {webhook_url!r}")
        if email and "@" not in email:
            raise ValueError(f"alarm_email must be an e-mail address, not {email!r}")
        return replace(
            self,
            alarm_email=email or self.alarm_email,
            alarm_webhook_url=webhook_url or self.alarm_webhook_url,
        )

    def resource_name(self, suffix: str) -> str:
        """``lkml-<env>-<suffix>``: every named resource carries the environment."""
        return f"lkml-{self.name}-{suffix}"


_CONFIGS = {
    "dev": EnvConfig(
        name="dev",
        memory_mb=512,
        api_memory_mb=512,
        on_demand=True,
        max_read_request_units=200,
        max_write_request_units=100,
        min_read_capacity=1,
        max_read_capacity=1,
        min_write_capacity=1,
        max_write_capacity=1,
        tracing=False,
        api_snap_start=False,
        log_level="DEBUG",
        retain=False,
        log_retention=logs.RetentionDays.ONE_WEEK,
        retention_days=90,
        api_rate_limit=10,
        api_burst_limit=20,
        api_waf_rate_limit=None,
        lore_requests_per_minute=60,
        api_reserved_concurrency=5,
    ),
    "staging": EnvConfig(
        name="staging",
        memory_mb=1024,
        api_memory_mb=1024,
        on_demand=True,
        max_read_request_units=400,
        max_write_request_units=200,
        min_read_capacity=1,
        max_read_capacity=1,
        min_write_capacity=1,
        max_write_capacity=1,
        tracing=False,
        api_snap_start=False,
        log_level="INFO",
        retain=False,
        log_retention=logs.RetentionDays.ONE_MONTH,
        retention_days=180,
        api_rate_limit=20,
        api_burst_limit=40,
        api_waf_rate_limit=1000,
        lore_requests_per_minute=60,
        api_reserved_concurrency=10,
    ),
    "prod": EnvConfig(
        name="prod",
        memory_mb=1024,
        api_memory_mb=1024,
        on_demand=True,
        max_read_request_units=3000,
        max_write_request_units=500,
        min_read_capacity=5,
        max_read_capacity=100,
        min_write_capacity=5,
        max_write_capacity=200,
        tracing=True,
        api_snap_start=True,
        log_level="INFO",
        retain=True,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        retention_days=0,
        api_rate_limit=50,
        api_burst_limit=100,
        api_waf_rate_limit=1000,
        lore_requests_per_minute=60,
        api_reserved_concurrency=20,
    ),
}


def env_config(name: str) -> EnvConfig:
    """The configuration of one environment; a clear error for any other name."""
    try:
        return _CONFIGS[name]
    except KeyError:
        raise ValueError(
            f"unknown environment {name!r}: use one of {', '.join(ENVIRONMENTS)} "
            "(-c env=NAME or LKML_ENV=NAME)"
        ) from None
