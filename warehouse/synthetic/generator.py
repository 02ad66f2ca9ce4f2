"""Generate a realistic, deterministic landing zone: reference data plus daily deliveries.

``generate(out_dir, config)`` writes ``organizations``, ``teams``, ``users``,
``provider_pricing``, ``budgets`` and ``provider_invoices`` once, and
``task_executions__<day>`` / ``routing_decisions__<day>`` per delivery day. Task executions
arrive as lifecycle versions (pending, running, completed or failed), mostly on the day they
happen and sometimes days later. With ``cost_spike``, the first organization's tasks on the
last weekday before ``end_date`` use COST_SPIKE_FACTOR times the tokens (a cost anomaly to
find). The same config always gives the same bytes: all randomness comes from one
``random.Random(seed)``.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from warehouse.ingest.contract import PROVIDERS, TASK_TYPES
from warehouse.synthetic import billing, catalog
from warehouse.synthetic.chaos import add_chaos
from warehouse.synthetic.entities import GeneratorConfig, Organization, Row
from warehouse.synthetic.writers import write_table


@dataclass
class GenerationSummary:
    out_dir: Path
    file_rows: dict[str, int]
    distinct_tasks: int
    chaos: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        by_table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for name, rows in self.file_rows.items():
            table = name.split(".")[0].split("__")[0]
            by_table[table][0] += 1
            by_table[table][1] += rows
        lines = [f"wrote {len(self.file_rows)} files to {self.out_dir}"]
        lines += [f"  {table:<18} {files:>4} files {rows:>9,} rows"
                  for table, (files, rows) in by_table.items()]  # fmt: skip
        lines.append(f"  {self.distinct_tasks:,} distinct tasks")
        if self.chaos:
            lines.append("  chaos: " + ", ".join(f"{k} {v}" for k, v in self.chaos.items()))
        return "\n".join(lines)


class Generator:
    """Builds the rows; one instance per ``generate`` call."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.start = datetime.combine(config.start_date, time(), tzinfo=UTC)
        self.end = datetime.combine(config.end_date, time(), tzinfo=UTC) + timedelta(days=1)
        if config.until is not None:
            self.end = min(self.end, config.until)
        self.task_counter = 0
        self.spike: tuple[str, date] | None = None  # (organization id, day) of the cost spike

    # ------------------------------------------------------------------ helpers
    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def weighted(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def moment_between(self, low: datetime, high: datetime) -> datetime:
        seconds = (high - low).total_seconds()
        return low + timedelta(seconds=round(self.rng.uniform(0, seconds)))

    def poisson(self, mean: float) -> int:
        """Knuth's method; fine for the small means used here."""
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    # ------------------------------------------------------------------ reference data
    def organizations(self) -> list[Organization]:
        organizations = []
        names = list(catalog.ORGANIZATION_NAMES)
        for index in range(self.config.orgs):
            name = names[index % len(names)]
            if index >= len(names):
                name = f"{name} {index // len(names) + 1}"
            created = self.start - timedelta(days=self.rng.randint(30, 400))
            no_default = self.rng.random() < catalog.SHARE_WITHOUT_DEFAULT_PROVIDER
            row = {
                "id": self.new_id(),
                "name": name,
                "pricing_tier": self.rng.choice(catalog.TIERS),
                "default_provider": None if no_default else self.rng.choice(PROVIDERS),
                "retention_days": self.rng.choice(catalog.RETENTION_DAYS),
                "created_at": created,
                "updated_at": created,
            }
            organizations.append(Organization(row, self.rng.choice(catalog.TIMEZONE_OFFSETS_HOURS)))
        return organizations

    def teams_and_users(self, organization: Organization) -> tuple[list[Row], list[Row]]:
        org = organization.row
        slug = org["name"].lower().replace(" ", "-")
        team_count = self.rng.randint(*catalog.TEAMS_PER_ORGANIZATION)
        developer_count = self.rng.randint(*catalog.DEVELOPERS_PER_ORGANIZATION)
        team_names = self.rng.sample(catalog.TEAM_NAMES, team_count)
        teams = [
            {"id": self.new_id(), "organization_id": org["id"], "name": team_name,
             "created_at": org["created_at"], "updated_at": org["created_at"]}
            for team_name in team_names
        ]  # fmt: skip
        roles = ["org_admin"] + ["team_lead"] * team_count
        roles += ["developer"] * max(developer_count - len(roles), 1)
        users = []
        for number, role in enumerate(roles):
            team = None if role == "org_admin" else teams[(number - 1) % team_count]
            first = self.rng.choice(catalog.FIRST_NAMES)
            last = self.rng.choice(catalog.LAST_NAMES)
            created = org["created_at"] + timedelta(days=self.rng.randint(0, 20))
            deleted = None
            if role == "developer" and self.rng.random() < catalog.SHARE_JOINING_MID_PERIOD:
                created = self.moment_between(self.start, self.end - timedelta(days=3))
            elif role == "developer" and self.rng.random() < catalog.SHARE_LEAVING_MID_PERIOD:
                deleted = self.moment_between(self.start + timedelta(days=2), self.end)
            users.append(
                {
                    "id": self.new_id(),
                    "organization_id": org["id"],
                    "team_id": team["id"] if team else None,
                    "name": f"{first} {last}",
                    "email": f"{first}.{last}{number}@{slug}.example.com".lower(),
                    "role": role,
                    "created_at": created,
                    "updated_at": deleted or created,
                    "deleted_at": deleted,
                }
            )
            organization.activity[users[-1]["id"]] = self.rng.uniform(0.5, 1.5)
        organization.users = users
        return teams, users

    def pricing(self) -> list[Row]:
        rows = []
        history_start = self.start - timedelta(days=90)
        created = history_start - timedelta(days=1)

        def price(provider: str, per_token: str, per_request: str | None,
                  per_minute: str | None, **extra: Any) -> Row:  # fmt: skip
            row = {
                "id": self.new_id(), "provider": provider, "task_type": None,
                "cost_per_token": per_token, "cost_per_request": per_request,
                "cost_per_minute": per_minute, "pricing_tier": None,
                "effective_from": history_start, "effective_until": None,
                "created_at": created, "notes": None,
            }  # fmt: skip
            row.update(extra)
            return row

        for provider in PROVIDERS:
            per_token, per_request, per_minute = catalog.LIST_PRICES[provider]
            changed_at = datetime.combine(
                self.config.start_date + timedelta(days=self.rng.randint(1, self.config.days)),
                time(),
                tzinfo=UTC,
            )
            factor = Decimal(catalog.PRICE_CHANGE_FACTOR[provider])
            rows.append(price(provider, per_token, per_request, per_minute,
                              effective_until=changed_at, notes="list price"))  # fmt: skip
            rows.append(price(provider, str(Decimal(per_token) * factor), per_request,
                              per_minute, effective_from=changed_at, created_at=changed_at,
                              notes=f"price change x{factor}"))  # fmt: skip
        for provider, task_type, per_token in catalog.TASK_TYPE_PRICES:
            _, per_request, per_minute = catalog.LIST_PRICES[provider]
            rows.append(price(provider, per_token, per_request, per_minute,
                              task_type=task_type, notes=f"{task_type} rate"))  # fmt: skip
        for provider, tier, task_type, per_token in catalog.TIER_PRICES:
            _, per_request, per_minute = catalog.LIST_PRICES[provider]
            rows.append(price(provider, per_token, per_request, per_minute, pricing_tier=tier,
                              task_type=task_type, notes=f"{tier} contract"))  # fmt: skip
        return rows

    # ------------------------------------------------------------------ tasks
    def list_price(self, pricing: list[Row], provider: str, moment: datetime) -> Row | None:
        for row in pricing:
            if (
                row["provider"] == provider
                and row["task_type"] is None
                and row["pricing_tier"] is None
                and row["effective_from"] <= moment
                and (row["effective_until"] is None or moment < row["effective_until"])
            ):
                return row
        return None  # fmt: skip

    @staticmethod
    def priced(row: Row | None, tokens: int, duration_ms: int) -> Decimal | None:
        if row is None:
            return None
        cost = Decimal(tokens) * Decimal(row["cost_per_token"] or 0)
        cost += Decimal(row["cost_per_request"] or 0)
        cost += Decimal(duration_ms) / Decimal(60000) * Decimal(row["cost_per_minute"] or 0)
        return cost.quantize(Decimal("0.000001"))

    def task_starts(self, organization: Organization, day: date) -> list[tuple[Row, datetime]]:
        weekend = day.weekday() >= 5
        per_developer = (catalog.TASKS_PER_DEVELOPER_WEEKEND if weekend
                         else catalog.TASKS_PER_DEVELOPER_WEEKDAY)  # fmt: skip
        midnight = datetime.combine(day, time(), tzinfo=UTC)
        starts = []
        for user in organization.users:
            if user["created_at"] > midnight + timedelta(days=1):
                continue
            if user["deleted_at"] is not None and user["deleted_at"] <= midnight:
                continue
            for _ in range(self.poisson(per_developer * organization.activity[user["id"]])):
                local_hour = min(
                    max(
                        self.rng.gauss(
                            catalog.WORKDAY_PEAK_LOCAL_HOUR, catalog.WORKDAY_SPREAD_HOURS
                        ),
                        7.0,
                    ),
                    22.0,
                )
                utc_hour = local_hour - organization.timezone_offset
                moment = midnight + timedelta(hours=utc_hour, seconds=self.rng.randint(0, 59))
                moment = moment.replace(microsecond=0)
                if user["created_at"] <= moment < self.end and (
                    user["deleted_at"] is None or moment < user["deleted_at"]
                ):
                    starts.append((user, moment))
        return starts  # fmt: skip

    def task(self, organization: Organization, user: Row, started: datetime,
             pricing: list[Row]) -> tuple[list[Row], list[Row]]:  # fmt: skip
        """All versions of one task execution, and its routing decision rows."""
        org = organization.row
        self.task_counter += 1
        task_type = self.weighted(catalog.TASK_TYPE_WEIGHTS)
        median = catalog.MEDIAN_DURATION_SECONDS[task_type]
        duration_ms = max(
            1000, round(self.rng.lognormvariate(math.log(median), catalog.DURATION_SIGMA) * 1000)
        )
        tokens = max(50, round(duration_ms / 1000 * catalog.TOKENS_PER_SECOND
                               * self.rng.lognormvariate(0, 0.3)))  # fmt: skip
        provider = self.route(task_type, pricing, started, tokens, duration_ms)
        if self.spike == (organization.row["id"], started.date()):
            tokens *= catalog.COST_SPIKE_FACTOR
        failure_rate = catalog.BASE_FAILURE_RATE[provider] * catalog.FAILURE_FACTOR[task_type]
        outcome = "completed"
        roll = self.rng.random()
        if roll < catalog.SHARE_STUCK_PENDING:
            outcome = "stuck_pending"
        elif roll < catalog.SHARE_STUCK_PENDING + catalog.SHARE_STUCK_RUNNING:
            outcome = "stuck_running"
        elif self.rng.random() < failure_rate:
            outcome = "failed"
            duration_ms = max(500, round(duration_ms * self.rng.uniform(0.2, 1.0)))
        description = self.description(task_type, user)
        alternatives = [p for p in PROVIDERS if p != provider]
        base: Row = {
            "id": self.new_id(),
            "task_id": f"TASK-{self.task_counter:07d}",
            "user_id": user["id"],
            "organization_id": org["id"],
            "task_type": task_type,
            "task_description": description,
            "code_language": self.weighted(catalog.CODE_LANGUAGES),
            "provider": provider,
            "routing_reason": self.rng.choice(catalog.ROUTING_REASONS).format(
                task_type=task_type),
            "alternative_providers": alternatives,
            "start_time": started,
            "tokens_used": 0,
            "cost_usd": "0",
            "status": "pending",
            "created_at": started - timedelta(seconds=self.rng.randint(1, 5)),
        }  # fmt: skip
        versions = [{**base, "updated_at": base["created_at"]}]
        if outcome != "stuck_pending":
            versions.append({**base, "status": "running", "updated_at": started})
        ended = started + timedelta(milliseconds=duration_ms)
        cost = baseline = None
        if outcome in ("completed", "failed"):
            price = self.list_price(pricing, provider, started)
            baseline_provider = org["default_provider"] or "github_copilot"
            cost = self.priced(price, tokens, duration_ms)
            baseline = self.priced(self.list_price(pricing, baseline_provider, started),
                                   tokens, duration_ms)  # fmt: skip
            final = {
                **base, "status": outcome, "end_time": ended, "duration_ms": duration_ms,
                "tokens_used": tokens, "cost_usd": str(cost),
                "baseline_cost_usd": str(baseline), "savings_usd": str(baseline - cost),
                "updated_at": ended + timedelta(seconds=self.rng.randint(0, 3)),
            }  # fmt: skip
            if outcome == "failed":
                final["error_message"] = self.error_message(tokens)
            versions.append(final)
        decisions = self.decisions(base, versions[-1], cost, duration_ms, outcome)
        return versions, decisions

    def route(self, task_type: str, pricing: list[Row], started: datetime, tokens: int,
              duration_ms: int) -> str:  # fmt: skip
        """The router: usually the cheapest provider at list price, else by task-type fit."""
        if self.rng.random() < catalog.SHARE_ROUTED_BY_COST:
            costs = {p: self.priced(self.list_price(pricing, p, started), tokens, duration_ms)
                     for p in PROVIDERS}  # fmt: skip
            return min(PROVIDERS, key=lambda p: (costs[p], p))
        return self.rng.choices(PROVIDERS, weights=catalog.ROUTING_WEIGHTS[task_type])[0]

    def description(self, task_type: str, user: Row) -> str:
        template = self.rng.choice(catalog.DESCRIPTIONS[task_type])
        text = template.format(thing=self.rng.choice(catalog.THINGS),
                               module=self.rng.choice(catalog.MODULES))  # fmt: skip
        if self.rng.random() < catalog.SHARE_WITH_PII:
            first = user["name"].split()[0].lower()
            text += self.rng.choice((
                f" (ask {user['email']})",
                f"; repro key sk-{self.rng.getrandbits(128):032x}",
                f", see /home/{first}/src/app.py",
                f" from host 10.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.7",
            ))  # fmt: skip
        return text

    def error_message(self, tokens: int) -> str:
        return self.rng.choice(catalog.ERROR_MESSAGES).format(
            seconds=self.rng.choice((30, 60, 120)),
            module=self.rng.choice(catalog.MODULES).replace(" ", "_"),
            line=self.rng.randint(3, 400),
            tokens=tokens * 4,
        )

    def decisions(self, base: Row, final: Row, cost: Decimal | None, duration_ms: int,
                  outcome: str) -> list[Row]:  # fmt: skip
        decided = base["start_time"] - timedelta(milliseconds=self.rng.randint(200, 2000))
        midpoint = self.start + (self.end - self.start) / 2
        version = catalog.ALGORITHM_VERSIONS[0 if decided < midpoint else 1]
        predicted_cost = (cost or Decimal("0.01")) * Decimal(str(round(
            self.rng.lognormvariate(0, 0.2), 3)))  # fmt: skip
        scores = {p: round(self.rng.uniform(0.4, 0.95), 3) for p in PROVIDERS}
        scores[base["provider"]] = max(scores.values()) + 0.01
        decision: Row = {
            "id": self.new_id(),
            "task_execution_id": base["id"],
            "chosen_provider": base["provider"],
            "decision_timestamp": decided,
            "alternative_providers": [
                {"provider": p, "score": scores[p], "reasoning": f"score {scores[p]:.2f}"}
                for p in PROVIDERS if p != base["provider"]
            ],
            "routing_algorithm_version": version,
            "decision_factors": {"cost_weight": 0.5, "performance_weight": 0.3,
                                 "availability_weight": 0.2},
            "predicted_cost": str(predicted_cost.quantize(Decimal("0.000001"))),
            "predicted_duration_ms": round(duration_ms * self.rng.lognormvariate(0, 0.25)),
            "predicted_quality_score": f"{self.rng.uniform(70, 95):.2f}",
            "created_at": decided,
        }  # fmt: skip
        rows = [decision]
        if outcome in ("completed", "failed"):
            quality = (self.rng.uniform(60, 98) if outcome == "completed"
                       else self.rng.uniform(0, 40))  # fmt: skip
            rows.append({**decision, "actual_cost": str(cost), "actual_duration_ms": duration_ms,
                         "actual_quality_score": f"{quality:.2f}",
                         "created_at": final["updated_at"]})  # fmt: skip
        if self.rng.random() < catalog.SHARE_REROUTED:
            rows.insert(0, {**decision, "id": self.new_id(),
                            "decision_timestamp": decided - timedelta(seconds=1),
                            "created_at": decided - timedelta(seconds=1)})  # fmt: skip
        return rows

    # ------------------------------------------------------------------ delivery
    def delivery_day(self, moment: datetime, *, may_be_late: bool) -> date:
        day = moment.date()
        if may_be_late and self.rng.random() < catalog.SHARE_DELIVERED_LATE:
            day += timedelta(days=self.rng.randint(1, catalog.MAX_DELIVERY_DELAY_DAYS))
        return min(day, self.config.end_date)


@dataclass
class Deliveries:
    """Rows per landing file name (without extension)."""

    files: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, day: date | None, row: Row) -> None:
        self.files[f"{table}__{day.isoformat()}" if day else table].append(row)


def generate(out_dir: Path, config: GeneratorConfig) -> GenerationSummary:
    """Write the landing files for ``config`` into ``out_dir`` and describe them."""
    if config.days < 1 or config.orgs < 1:
        raise ValueError("--orgs and --days must be at least 1")
    generator = Generator(config)
    deliveries = Deliveries()
    organizations = generator.organizations()
    pricing = generator.pricing()
    for organization in organizations:
        teams, users = generator.teams_and_users(organization)
        deliveries.add("organizations", None, organization.row)
        for team in teams:
            deliveries.add("teams", None, team)
        for user in users:
            deliveries.add("users", None, user)
    for row in pricing:
        deliveries.add("provider_pricing", None, row)
    if config.cost_spike:
        generator.spike = (organizations[0].row["id"], _last_weekday_before(config.end_date))
    billed: list[billing.BilledTask] = []
    task_ids: set[str] = set()
    day = config.start_date
    while day <= config.end_date:
        for organization in organizations:
            for user, started in sorted(generator.task_starts(organization, day),
                                        key=lambda item: item[1]):  # fmt: skip
                versions, decisions = generator.task(organization, user, started, pricing)
                task_ids.add(versions[0]["id"])
                if billable := _billed(versions[-1], organization, user, pricing, generator.end):
                    billed.append(billable)
                for version in versions:
                    if version["updated_at"] > generator.end:
                        continue  # not written yet
                    late = version["status"] in ("completed", "failed")
                    deliveries.add("task_executions",
                                   generator.delivery_day(version["updated_at"], may_be_late=late),
                                   version)  # fmt: skip
                for decision in decisions:
                    if decision["created_at"] > generator.end:
                        continue
                    deliveries.add("routing_decisions",
                                   generator.delivery_day(decision["created_at"],
                                                          may_be_late=False), decision)  # fmt: skip
        day += timedelta(days=1)
    first_teams = {}
    for row in deliveries.files["teams"]:
        first_teams.setdefault(row["organization_id"], row["id"])
    for row in billing.budgets([o.row for o in organizations], first_teams, billed,
                               config.start_date, config.end_date):  # fmt: skip
        deliveries.add("budgets", None, row)
    for row in billing.invoices(billed, config.start_date, config.end_date, generator.end):
        deliveries.add("provider_invoices", None, row)
    chaos_counts: dict[str, int] = {}
    if config.chaos:
        chaos_counts = add_chaos(generator, deliveries.files, organizations, pricing, task_ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    file_rows = {}
    for name in sorted(deliveries.files):
        table = name.split("__")[0]
        rows = deliveries.files[name]
        file_name = write_table(out_dir, name, table, rows, config.file_format)
        file_rows[file_name] = len(rows)
    summary = GenerationSummary(out_dir, file_rows, len(task_ids), chaos_counts)
    manifest = {
        "config": {"orgs": config.orgs, "days": config.days, "seed": config.seed,
                   "end_date": config.end_date.isoformat(), "chaos": config.chaos,
                   "until": config.until.isoformat() if config.until else None,
                   "file_format": config.file_format},
        "files": file_rows,
        "distinct_tasks": len(task_ids),
        "chaos": chaos_counts,
    }  # fmt: skip
    (out_dir / "_manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return summary


def _last_weekday_before(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _billed(
    final: Row, organization: Organization, user: Row, pricing: list[Row], end: datetime
) -> billing.BilledTask | None:
    """A finished task delivered by ``end`` as its provider bills it (contract price)."""
    if final["status"] not in ("completed", "failed") or final["updated_at"] > end:
        return None
    tier = organization.row["pricing_tier"]
    price = billing.contract_price(
        pricing, final["provider"], final["task_type"], tier, final["start_time"]
    )
    cost = Generator.priced(price, final["tokens_used"], final["duration_ms"]) or Decimal(0)
    return billing.BilledTask(
        organization.row["id"],
        user["team_id"],
        final["provider"],
        final["start_time"].date(),
        final["status"],
        cost,
    )


__all__ = ["TASK_TYPES", "GenerationSummary", "GeneratorConfig", "generate"]
