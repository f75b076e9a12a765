# SPDX-License-Identifier: GPL-2.0-or-later
"""A month of prod at list prices, computed from the counts of the scale replay.

Prices: us-east-1 list prices as written in docs/aws.md ("Cost model") by its author, from
the AWS price pages as of late 2024 / 2025 (this machine has no internet to check them again),
before free tier. The prod memory sizes and capacity floors are read from the one place that
sets them, ``infra/lkml_infra/config.py`` (parsed, not imported: it needs the CDK).

Everything measured is scaled from the replayed week to a month (730 h / 168 h); what the
replay does not exercise is an assumption, named as such in its line: the API's 1 M requests
(read units of a page and milliseconds of a request), the event source mapping's empty polls,
CloudWatch alarms.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGION = "us-east-1"
PRICES_AS_OF = "late 2024 / 2025 list prices, as in docs/aws.md (not re-checked: no internet)"
PRICES: dict[str, float] = {
    "dynamodb_read_per_million": 0.125,
    "dynamodb_write_per_million": 0.625,
    "dynamodb_rcu_hour": 0.00013,
    "dynamodb_wcu_hour": 0.00065,
    "dynamodb_storage_gb_month": 0.25,
    "dynamodb_pitr_gb_month": 0.20,
    "lambda_gb_second": 0.0000166667,
    "lambda_per_million": 0.20,
    "sqs_per_million": 0.40,
    "apigateway_rest_per_million": 3.50,
    "cloudwatch_metric_month": 0.30,
    "cloudwatch_alarm_month": 0.10,
    "cloudwatch_logs_ingested_gb": 0.50,
    "cloudwatch_logs_stored_gb_month": 0.03,
}
HOURS_A_MONTH = 730.0
API_REQUESTS_A_MONTH = 1_000_000
# Assumptions for what the replay does not run; the API's read units and seconds a page are
# measured on a few pages after the week when the replay passes them.
API_READ_UNITS_A_PAGE = 23.0
API_SECONDS_A_REQUEST = 0.1
API_LOG_BYTES_A_REQUEST = 700  # the access log line and the function's own lines
ESM_EMPTY_RECEIVES_A_MONTH = 3 * 60 * 730  # long polls of 20 s by the event source mapping
LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines of every invocation
ALARMS = 16
CONFIG = Path(__file__).resolve().parent.parent / "infra" / "lkml_infra" / "config.py"


def prod_config(path: Path = CONFIG) -> dict[str, Any]:
    """The literal arguments of prod's ``EnvConfig(...)`` in the CDK app's configuration."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "prod":
                    assert isinstance(value, ast.Call)
                    return {
                        kw.arg: kw.value.value
                        for kw in value.keywords
                        if kw.arg and isinstance(kw.value, ast.Constant)
                    }
    raise LookupError(f"no prod configuration in {path}")


@dataclass
class Line:
    item: str
    volume: str
    dollars: float


def monthly_cost(week: dict[str, Any], *, capacity_pairs: int) -> dict[str, Any]:
    """The bill of a month from the counts of a replayed week.

    ``week``: ``hours`` replayed, ``read_units``/``write_units``, ``invocations`` and
    ``seconds`` by function, ``sqs_calls``, ``log_bytes``, ``metrics`` (distinct metric and
    dimension sets), ``store_bytes`` (items and index copies at the week's end) and
    ``store_growth_bytes`` (what the week added)."""
    p = PRICES
    prod = prod_config()
    scale = HOURS_A_MONTH / week["hours"]
    lines: list[Line] = []
    ru = week["read_units"] * scale
    wu = week["write_units"] * scale
    page_ru = week.get("api_read_units_a_page", API_READ_UNITS_A_PAGE)
    api_seconds = week.get("api_seconds_a_request", API_SECONDS_A_REQUEST)
    api_ru = API_REQUESTS_A_MONTH * page_ru
    lines.append(
        Line(
            "DynamoDB reads, jobs (on-demand price)",
            f"{ru / 1e6:.2f} M RRU",
            ru / 1e6 * p["dynamodb_read_per_million"],
        )
    )
    lines.append(
        Line(
            "DynamoDB writes, jobs (on-demand price)",
            f"{wu / 1e6:.2f} M WRU",
            wu / 1e6 * p["dynamodb_write_per_million"],
        )
    )
    lines.append(
        Line(
            f"DynamoDB reads, API (mean of the pages measured: {page_ru:.0f} RU)",
            f"{api_ru / 1e6:.1f} M RRU",
            api_ru / 1e6 * p["dynamodb_read_per_million"],
        )
    )
    # A year of prod (retention 0: kept): today's store plus 52 weeks of what a week adds.
    year_gb = (week["store_bytes"] + 52 * week["store_growth_bytes"]) / 1e9
    lines.append(
        Line(
            "DynamoDB storage + PITR (after a year)",
            f"{year_gb:.2f} GB",
            year_gb * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"]),
        )
    )
    job_gb = prod["memory_mb"] / 1024
    job_gbs = sum(week["seconds"].values()) * scale * job_gb
    job_requests = sum(week["invocations"].values()) * scale
    api_gbs = API_REQUESTS_A_MONTH * api_seconds * prod["api_memory_mb"] / 1024
    lines.append(
        Line(
            f"Lambda jobs + consumers ({prod['memory_mb']} MB)",
            f"{job_requests:,.0f} invocations, {job_gbs:,.0f} GB-s",
            job_gbs * p["lambda_gb_second"] + job_requests / 1e6 * p["lambda_per_million"],
        )
    )
    lines.append(
        Line(
            f"Lambda API ({prod['api_memory_mb']} MB, {api_seconds * 1000:.0f} ms a request)",
            f"1 M requests, {api_gbs:,.0f} GB-s",
            api_gbs * p["lambda_gb_second"] + API_REQUESTS_A_MONTH / 1e6 * p["lambda_per_million"],
        )
    )
    lines.append(
        Line(
            "API Gateway REST",
            "1 M requests",
            API_REQUESTS_A_MONTH / 1e6 * p["apigateway_rest_per_million"],
        )
    )
    sqs = week["sqs_calls"] * scale + ESM_EMPTY_RECEIVES_A_MONTH
    lines.append(
        Line(
            "SQS (measured calls + the event source's empty polls)",
            f"{sqs:,.0f} requests",
            sqs / 1e6 * p["sqs_per_million"],
        )
    )
    log_bytes = (
        week["log_bytes"] * scale
        + job_requests * LAMBDA_PLATFORM_LOG_BYTES
        + API_REQUESTS_A_MONTH * API_LOG_BYTES_A_REQUEST
    )
    log_gb = log_bytes / 1e9
    retention_months = 3.0  # prod keeps logs three months (config.log_retention)
    lines.append(
        Line(
            "CloudWatch Logs (ingested; 3 months kept)",
            f"{log_gb:.2f} GB a month",
            log_gb * p["cloudwatch_logs_ingested_gb"]
            + log_gb * retention_months * p["cloudwatch_logs_stored_gb_month"],
        )
    )
    lines.append(
        Line(
            "CloudWatch custom metrics (EMF, measured sets)",
            f"{week['metrics']} metrics",
            week["metrics"] * p["cloudwatch_metric_month"],
        )
    )
    lines.append(
        Line(
            "CloudWatch alarms (assumed)", f"{ALARMS} alarms", ALARMS * p["cloudwatch_alarm_month"]
        )
    )
    on_demand = sum(line.dollars for line in lines)
    floor = capacity_pairs * HOURS_A_MONTH
    provisioned_floor = floor * (
        prod["min_read_capacity"] * p["dynamodb_rcu_hour"]
        + prod["min_write_capacity"] * p["dynamodb_wcu_hour"]
    )
    dynamo_on_demand = sum(
        line.dollars
        for line in lines
        if line.item.startswith("DynamoDB r") or line.item.startswith("DynamoDB w")
    )
    provisioned_total = on_demand - dynamo_on_demand + provisioned_floor
    top = max(lines, key=lambda line: line.dollars)
    return {
        "region": REGION,
        "as_of": PRICES_AS_OF,
        "prices": p,
        "scale_week_to_month": round(scale, 3),
        "lines": [
            {"item": line.item, "volume": line.volume, "dollars": round(line.dollars, 2)}
            for line in lines
        ],
        "total_on_demand": round(on_demand, 2),
        "provisioned_floor": {
            "pairs": capacity_pairs,
            "rcu": prod["min_read_capacity"],
            "wcu": prod["min_write_capacity"],
            "dollars": round(provisioned_floor, 2),
        },
        "total_provisioned_floor": round(provisioned_total, 2),
        # What prod's configuration bills: on demand (with caps) unless it says otherwise.
        "prod_on_demand": bool(prod.get("on_demand", False)),
        "dominant": top.item,
        "target_dollars": 20.0,
    }


def print_cost(cost: dict[str, Any]) -> None:
    print(f"cost model, {cost['region']}, prices {cost['as_of']}:")
    for line in cost["lines"]:
        print(f"  {line['item']:<58} {line['volume']:>34}  ${line['dollars']:>7.2f}")
    print(f"  {'total, DynamoDB on demand':<58} {'':>34}  ${cost['total_on_demand']:>7.2f}")
    floor = cost["provisioned_floor"]
    shape = f"{floor['pairs']} pairs x {floor['rcu']} RCU/{floor['wcu']} WCU)"
    print(
        f"  {'total, with a provisioned floor instead (':<58} {shape:>34}"
        f"  ${cost['total_provisioned_floor']:>7.2f}"
    )
    configured = "on demand" if cost["prod_on_demand"] else "provisioned floor"
    print(f"  prod as configured in infra/lkml_infra/config.py: {configured}")
    for name, total in (
        ("on demand", cost["total_on_demand"]),
        ("provisioned floor", cost["total_provisioned_floor"]),
    ):
        verdict = "met" if total < cost["target_dollars"] else "NOT met"
        print(f"  target < ${cost['target_dollars']:.0f} a month ({name}): {verdict}")
    print(f"  largest line: {cost['dominant']}")
