"""The vocabulary of the synthetic platform: names, task mixes, prices, failure rates.

Every number that shapes the generated data is named here, so the data's realism can be read
(and tuned) in one place.
"""

from __future__ import annotations

from warehouse.ingest.contract import PROVIDERS

ORGANIZATION_NAMES = (
    "Acme Robotics", "Globex Labs", "Initech Software", "Umbrella Analytics", "Stark Tooling",
    "Wayne Systems", "Hooli Cloud", "Vandelay Logistics", "Soylent Foods", "Tyrell Devices",
)  # fmt: skip
TEAM_NAMES = ("Platform", "Payments", "Mobile", "Data", "Growth", "Infra", "Web", "API")
FIRST_NAMES = (
    "Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Alan", "Radia",
    "Guido", "Katherine", "Edsger", "Hedy", "Donald", "Sophie", "Tim", "Anita", "Bjarne", "Joan",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
    "Turing", "Perlman", "Rossum", "Johnson", "Dijkstra", "Lamarr", "Knuth", "Wilson", "Berners",
    "Borg", "Stroustrup", "Clarke",
)  # fmt: skip
TIMEZONE_OFFSETS_HOURS = (-8, -5, 0, 1, 2, 5, 8)  # where each organization works
DEVELOPERS_PER_ORGANIZATION = (5, 40)
TEAMS_PER_ORGANIZATION = (2, 5)
SHARE_WITHOUT_DEFAULT_PROVIDER = 0.25  # baseline falls back to the `baseline_provider` var
RETENTION_DAYS = (90, 90, 90, 90, 30, 365)
TIERS = ("free", "standard", "standard", "premium", "enterprise")
SHARE_JOINING_MID_PERIOD = 0.10
SHARE_LEAVING_MID_PERIOD = 0.06

TASK_TYPE_WEIGHTS = {
    "bug_fix": 0.35, "feature": 0.25, "test": 0.15, "refactor": 0.15, "documentation": 0.10,
}  # fmt: skip
# Median task duration in seconds (log-normal, sigma below).
MEDIAN_DURATION_SECONDS = {
    "documentation": 45, "test": 90, "bug_fix": 150, "refactor": 240, "feature": 420,
}  # fmt: skip
DURATION_SIGMA = 0.6
TOKENS_PER_SECOND = 25
CODE_LANGUAGES = {
    "typescript": 0.3, "python": 0.3, "javascript": 0.15, "go": 0.1, "java": 0.1, "rust": 0.05,
}  # fmt: skip
# Share of tasks the router sends to the cheapest provider at list price; the others go by
# task-type fit (ROUTING_WEIGHTS), which is what makes savings vary by organization.
SHARE_ROUTED_BY_COST = 0.55
# Which provider the router prefers per task type (weights over PROVIDERS).
ROUTING_WEIGHTS = {
    "bug_fix": (0.4, 0.35, 0.25),
    "feature": (0.25, 0.5, 0.25),
    "test": (0.3, 0.2, 0.5),
    "refactor": (0.3, 0.4, 0.3),
    "documentation": (0.6, 0.15, 0.25),
}
BASE_FAILURE_RATE = {"github_copilot": 0.04, "openai_codex": 0.03, "google_code_assist": 0.05}
FAILURE_FACTOR = {
    "feature": 1.5, "refactor": 1.2, "bug_fix": 1.0, "test": 1.0, "documentation": 0.5,
}  # fmt: skip
SHARE_STUCK_RUNNING = 0.004
SHARE_STUCK_PENDING = 0.001
SHARE_DELIVERED_LATE = 0.02
COST_SPIKE_FACTOR = 5  # tokens of the planted cost spike's tasks, times the usual
MAX_DELIVERY_DELAY_DAYS = 5
SHARE_WITH_PII = 0.02
SHARE_REROUTED = 0.03  # tasks with a second, newer routing decision

# Tasks per active developer per day, before the developer's own activity factor.
TASKS_PER_DEVELOPER_WEEKDAY = 6.0
TASKS_PER_DEVELOPER_WEEKEND = 0.7
WORKDAY_PEAK_LOCAL_HOUR = 14.0
WORKDAY_SPREAD_HOURS = 2.5

# Generic list prices per provider: (cost_per_token, cost_per_request, cost_per_minute).
LIST_PRICES = {
    "github_copilot": ("0.000014", "0.003", "0.01"),
    "openai_codex": ("0.000015", "0.004", None),
    "google_code_assist": ("0.000010", "0.003", "0.005"),
}
PRICE_CHANGE_FACTOR = {"github_copilot": "0.95", "openai_codex": "0.8", "google_code_assist": "1.1"}
# Task-type-specific rows: (provider, task_type, cost_per_token).
TASK_TYPE_PRICES = (
    ("openai_codex", "feature", "0.000018"),
    ("github_copilot", "documentation", "0.000006"),
)
# Tier-specific rows: (provider, tier, task_type or None, cost_per_token).
TIER_PRICES = (
    ("github_copilot", "enterprise", None, "0.000011"),
    ("openai_codex", "enterprise", None, "0.000012"),
    ("google_code_assist", "enterprise", None, "0.000008"),
    ("google_code_assist", "premium", "test", "0.000007"),
)

DESCRIPTIONS = {
    "bug_fix": ("Fix {thing} in {module}", "Crash when {thing} is empty in {module}",
                "Off-by-one in {module} pagination", "Race condition in {module} {thing}"),
    "feature": ("Add {thing} to {module}", "Support {thing} export in {module}",
                "Implement {thing} endpoint for {module}"),
    "test": ("Write unit tests for {module}", "Cover {thing} edge cases in {module}",
             "Fix flaky {module} integration test"),
    "refactor": ("Extract {thing} from {module}", "Simplify {module} {thing} handling",
                 "Rename {thing} across {module}"),
    "documentation": ("Document {module} {thing}", "Update README for {module}",
                      "Add docstrings to {module}"),
}  # fmt: skip
THINGS = ("retry logic", "pagination", "caching", "login flow", "rate limiter", "CSV export",
          "webhooks", "search index", "feature flags", "audit log")  # fmt: skip
MODULES = ("billing", "auth", "checkout", "reports", "scheduler", "notifications", "api gateway",
           "user profile", "search", "ingest")  # fmt: skip
ERROR_MESSAGES = (
    "Timeout after {seconds}s waiting for provider response",
    "Provider returned 429 Too Many Requests",
    "Generated patch failed to compile: {module}.ts line {line}",
    "Tests failed: 3 of {line} assertions in {module}",
    "Context window exceeded ({tokens} tokens)",
)
ROUTING_REASONS = (
    "lowest predicted cost for {task_type}",
    "highest success rate for {task_type}",
    "organization default provider",
    "best latency in the last hour",
)
ALGORITHM_VERSIONS = ("v2.3.0", "v2.4.0")  # the router is upgraded mid-period

assert len(ROUTING_WEIGHTS["bug_fix"]) == len(PROVIDERS)
