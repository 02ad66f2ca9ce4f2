"""analytics.cost_anomalies finds the one planted cost spike, and a quiet series raises nothing.

Two organizations, S (one spike) and Q (quiet), one developer each, 30 days from 2026-03-01
(day d = 0..29), 20 completed openai_codex tasks a day at 0.00001/token of
1,000 + 100 x (d mod 5) tokens each: a day costs 0.20, 0.22, 0.24, 0.26 or 0.28.
- S, 2026-03-25 (d = 24): ten times the tokens, 2.80. Its trailing window holds d = 0..23 (the
  series starts on March 1st): 0.20, 0.22, 0.24, 0.26 five times each and 0.28 four times;
  median 0.24; absolute deviations 0 x5, 0.02 x10, 0.04 x9: MAD 0.02; scale
  max(1.4826 x 0.02, 5 % x 0.24) = 0.029652; score (2.80 - 0.24) / 0.029652 = 86.33.
  Ordinary days score at most (0.28 - 0.24) / 0.029652 = 1.35.
- Q, 2026-03-27 (d = 26): 5 tasks of ten times the tokens (0.55): a high score, but under the
  minimum of 20 tasks, so not judged.
The build runs as of 2026-03-31 00:00 UTC: the judged window (7 days) is March 25th to 31st.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.handbuilt import built_warehouse, write, write_prices
from warehouse.alerting.rules import cost_anomaly_alerts

ORG_S, ORG_Q = "0000000a-0000-4000-8000-000000000000", "0000000b-0000-4000-8000-000000000000"
USER_S, USER_Q = "000000a1-0000-4000-8000-000000000000", "000000b1-0000-4000-8000-000000000000"
FIRST_DAY = date(2026, 3, 1)
SPIKE, SMALL_DAY = date(2026, 3, 25), date(2026, 3, 27)
AS_OF = "2026-03-31T00:00:00+00:00"


def tasks_of(organization: int, org_id: str, user: str) -> list[dict[str, object]]:
    rows = []
    for d in range(30):
        day = FIRST_DAY + timedelta(days=d)
        tokens, count = 1000 + 100 * (d % 5), 20
        if (org_id, day) == (ORG_S, SPIKE):
            tokens *= 10
        if (org_id, day) == (ORG_Q, SMALL_DAY):
            tokens, count = tokens * 10, 5
        for n in range(count):
            start = f"{day}T{n:02d}:00:00Z"
            rows.append({
                "id": f"00000000-0000-4000-8{organization}{d:02d}-{n:012d}",
                "task_id": f"t{organization}-{d}-{n}", "user_id": user,
                "organization_id": org_id, "task_type": "feature", "provider": "openai_codex",
                "start_time": start, "end_time": f"{day}T{n:02d}:01:00Z",
                "tokens_used": tokens, "status": "completed", "updated_at": start,
            })  # fmt: skip
    return rows


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [
        {"id": ORG_S, "name": "Spiky"}, {"id": ORG_Q, "name": "Quiet"},
    ])  # fmt: skip
    write(landing / "users.csv", [
        {"id": USER_S, "organization_id": ORG_S, "name": "S", "created_at": "2020-01-01T00:00:00Z"},
        {"id": USER_Q, "organization_id": ORG_Q, "name": "Q", "created_at": "2020-01-01T00:00:00Z"},
    ])  # fmt: skip
    write_prices(landing)
    write(landing / "task_executions.csv", tasks_of(1, ORG_S, USER_S) + tasks_of(2, ORG_Q, USER_Q))


@pytest.fixture(scope="module")
def connection(server, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("anomalies")
    with built_warehouse(server, tmp_path, build_landing, AS_OF) as connection:
        yield connection


def test_the_planted_spike_is_the_only_anomaly(connection):
    assert connection.execute(
        "select organization_id::text, metric_date, total_tasks, total_cost_usd, "
        "trailing_median_cost_usd, trailing_mad_cost_usd, robust_scale_usd, anomaly_score, "
        "reason from analytics.cost_anomalies where is_anomaly"
    ).fetchall() == [
        (ORG_S, SPIKE, 20, Decimal("2.80"), Decimal("0.240000"), Decimal("0.020000"),
         Decimal("0.029652"), Decimal("86.33"),
         "cost 2.80 USD is 86.33 robust deviations from the trailing 28-day median of 0.24 USD "
         "(scale 0.03 USD), 20 tasks"),
    ]  # fmt: skip
    # every other judged day of either organization scores low
    [(highest,)] = connection.execute(
        "select max(anomaly_score) from analytics.cost_anomalies where history_days >= 14 "
        "and total_tasks >= 20 and not is_anomaly"
    ).fetchall()
    assert highest < Decimal("3.5")


def test_quiet_days_and_new_organizations_are_not_judged(connection):
    rows = dict(
        connection.execute(
            "select metric_date, reason from analytics.cost_anomalies "
            "where organization_id = %s and (metric_date = %s or history_days = 3)",
            (ORG_Q, SMALL_DAY),
        ).fetchall()
    )
    assert rows == {
        date(2026, 3, 4): "not judged: 3 days of history, 14 needed",
        SMALL_DAY: "not judged: 5 tasks, 20 needed",
    }
    [(score,)] = connection.execute(
        "select anomaly_score from analytics.cost_anomalies "
        "where organization_id = %s and metric_date = %s",
        (ORG_Q, SMALL_DAY),
    ).fetchall()
    assert score > Decimal("3.5")  # a spike, but on five tasks


def test_the_spike_raises_one_alert_and_the_quiet_organization_none(connection):
    alerts = cost_anomaly_alerts(connection)
    assert [(a.rule, a.severity, a.subject, a.alert_date) for a in alerts] == [
        ("cost_anomaly", "warning", ORG_S, SPIKE)
    ]
    assert alerts[0].message.startswith(f"cost spike for organization {ORG_S} on 2026-03-25: ")
    assert alerts[0].details["anomaly_score"] == "86.33"
