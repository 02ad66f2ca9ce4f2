"""The dashboard: `make dashboard` (or `streamlit run warehouse/dashboard/app.py`).

Pages: savings (today, live, and this month), the task execution log, providers, teams, the
executive summary and an ROI calculator; every number read from the marts as the viewer
(warehouse/dashboard/data.py). The viewer is picked in the sidebar (the demo's stand-in for
sign-in) and kept in the URL (``?viewer=<user id>``), so a page can be linked to.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import altair as alt
import streamlit as st

from warehouse import postgres
from warehouse.dashboard import data, tables
from warehouse.report import money, percent

st.set_page_config(page_title="AI routing savings", layout="wide")


@st.cache_resource(show_spinner=False)
def freeze_startup_objects() -> bool:
    """Once per process: the objects made so far (modules, Altair's schema classes) live as
    long as the process; out of the collector's full passes, which would otherwise walk them
    all every few reruns (the per-run collection is off: .streamlit/config.toml)."""
    gc.collect()
    gc.freeze()
    return True


freeze_startup_objects()


@st.cache_resource(ttl=60, show_spinner=False)
def reader_people() -> dict[str, dict[str, data.Viewer]]:
    """The viewer picker's people by organization name, then by user id, read once a minute at
    most (a resource, not data: 19,000 people at 10 M tasks are not copied at each rerun)."""
    people: dict[str, dict[str, data.Viewer]] = {}
    for person in data.viewers():
        people.setdefault(person.organization_name, {})[str(person.user_id)] = person
    return people


def session_connection():
    """This browser session's connection, opened on first use and again when it broke: every
    read runs in its own transaction under the viewer's role (data.as_viewer)."""
    connection = st.session_state.get("connection")
    if connection is None or connection.closed or connection.broken:
        connection = postgres.open_connection()
        st.session_state["connection"] = connection
    return connection


def as_viewer(viewer: data.Viewer):
    return data.as_viewer(viewer, session_connection())


# Each page's reads, cached per viewer and arguments for CACHE_SECONDS (the specification's
# dashboards are "cached for 30 to 60 seconds"): a page switch then waits for no query.
CACHE_SECONDS = 30


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def cached(name: str, viewer: data.Viewer, *arguments: object) -> object:
    """``data.<name>(connection, *arguments)`` as ``viewer``."""
    with as_viewer(viewer) as connection:
        return getattr(data, name)(connection, *arguments)


def pick_viewer() -> data.Viewer | None:
    """The organization, then the person in it (a list of everyone would be tens of thousands
    of options sent to the browser at each click); the person is kept in ``?viewer=``."""
    people = reader_people()
    if not people:
        st.error("No user with a reader role in analytics.users: load and build the warehouse "
                 "first (`make demo`).")  # fmt: skip
        return None
    chosen = st.query_params.get("viewer")
    home = next((name for name, members in people.items() if chosen in members), None)
    organizations = list(people)
    organization = st.sidebar.selectbox(
        "Organization", organizations, index=organizations.index(home) if home else 0,
        key="organization",
    )  # fmt: skip
    members = people[organization]
    keys = list(members)
    picked = st.sidebar.selectbox(
        "Viewing as", keys, index=keys.index(chosen) if chosen in members else 0,
        format_func=lambda key: members[key].label, key=f"viewer-{organization}",
    )  # fmt: skip
    st.query_params["viewer"] = picked
    st.sidebar.caption("Stands in for sign-in: each page shows what this person may see.")
    return members[picked]


def show_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A table as HTML (warehouse/dashboard/tables.py): a page of the log as st.table's cell
    components took the browser 60 ms of script to draw, as HTML a few."""
    st.html(tables.html_table(columns, rows))


def this_month() -> date:
    return datetime.now(UTC).date().replace(day=1)


def month_choice() -> date:
    text = st.query_params.get("month")
    try:
        return date.fromisoformat(f"{text}-01") if text else this_month()
    except ValueError:
        return this_month()


def savings_page() -> None:
    viewer, month = st.session_state["viewer_object"], month_choice()
    st.title("Savings")
    numbers = cached("savings", viewer, month)
    days = cached("daily_savings", viewer, month)
    today, month_savings, share = st.columns(3)
    today.metric("Savings today (live)", money(numbers["savings_today_usd"]),
                 help="Completed tasks today: the marts plus the live layer.")  # fmt: skip
    month_savings.metric(f"Savings in {month:%B %Y}", money(numbers["total_savings_usd"]))
    share.metric("Savings %", percent(numbers["savings_percentage"]))
    cost, baseline, tasks = st.columns(3)
    cost.metric("Cost", money(numbers["total_cost_usd"]))
    baseline.metric("Baseline cost", money(numbers["total_baseline_cost_usd"]))
    tasks.metric("Tasks", f"{numbers['total_tasks']:,}")
    if days:
        values = [{"day": row["metric_date"].isoformat(), "savings": float(row["savings_usd"])}
                  for row in days]  # fmt: skip
        st.altair_chart(
            alt.Chart(alt.Data(values=values)).mark_bar()
            .encode(x=alt.X("day:T", title=None), y=alt.Y("savings:Q", title="savings, USD")),
            use_container_width=True,
        )  # fmt: skip


def log_page() -> None:
    viewer = st.session_state["viewer_object"]
    st.title("Task execution log")
    choices = cached("log_choices", viewer)
    users = {str(row["id"]): row["name"] for row in choices["users"]}
    user, provider, status, period = st.columns(4)
    picked_user = user.selectbox(
        "User", ["", *users], format_func=lambda key: users.get(key, "all")
    )
    picked_provider = provider.selectbox("Provider", ["", *choices["providers"]],
                                         format_func=lambda key: key or "all")  # fmt: skip
    picked_status = status.selectbox("Status", ["", *choices["statuses"]],
                                     format_func=lambda key: key or "all")  # fmt: skip
    days = period.date_input("Started between", value=(), format="YYYY-MM-DD")
    start, end = (*tuple(days), None, None)[:2]
    where = data.LogFilter(
        user_id=UUID(picked_user) if picked_user else None,
        provider=picked_provider or None,
        status=picked_status or None,
        start=start,
        end=end,
    )
    page = int(st.number_input("Page", min_value=1, value=1, step=1))
    total, rows = cached("task_log", viewer, where, page)
    pages = max(1, -(-total // data.PAGE_SIZE))
    st.caption(f"{total:,} {'task' if total == 1 else 'tasks'}, page {page} of {pages}")
    show_table(
        ("task", "started", "user", "type", "provider", "status", "cost", "savings"),
        ((row["task_id"], f"{row['start_time']:%Y-%m-%d %H:%M}", row["user_name"],
          row["task_type"], row["provider"], row["status"], money(row["cost_usd"]),
          money(row["savings_usd"])) for row in rows),
    )  # fmt: skip


def providers_page() -> None:
    viewer, month = st.session_state["viewer_object"], month_choice()
    st.title("Providers")
    usage = cached("provider_usage", viewer, month)
    performance = cached("provider_performance", viewer, month)
    st.subheader(f"Your tasks by provider, {month:%B %Y}")
    if usage:
        st.altair_chart(
            alt.Chart(alt.Data(values=[dict(row) for row in usage])).mark_bar()
            .encode(y=alt.Y("provider:N", title=None, sort="-x"), x=alt.X("tasks:Q")),
            use_container_width=True,
        )  # fmt: skip
    show_table(("provider", "tasks"), ((row["provider"], f"{row['tasks']:,}") for row in usage))
    st.subheader("Provider performance, all organizations")
    show_table(
        ("provider", "success %", "avg cost per completed task", "finished tasks"),
        ((row["provider"], percent(row["success_rate"]), money(row["avg_cost_usd"]),
          f"{row['finished_tasks']:,}") for row in performance),
    )  # fmt: skip


def teams_page() -> None:
    viewer = st.session_state["viewer_object"]
    st.title("Team productivity")
    rows = cached("team_productivity", viewer)
    if not rows:
        st.info("No week with tasks you may see.")
        return
    st.caption(f"Week of {rows[0]['week_start']:%Y-%m-%d}")
    show_table(
        ("rank", "developer", "tasks", "completed", "savings", "most used provider"),
        ((row["task_rank"], row["user_name"], row["total_tasks"], row["completed_tasks"],
          money(row["total_savings_usd"]), row["most_used_provider"]) for row in rows),
    )  # fmt: skip


def summary_page() -> None:
    viewer, month = st.session_state["viewer_object"], month_choice()
    st.title(f"Executive summary, {month:%B %Y}")
    summary = cached("executive_summary", viewer, month)
    if not summary:
        st.info("The organization's figures are for its organization admins.")
        return
    st.subheader(summary["organization_name"])
    first, second, third = st.columns(3)
    first.metric("Savings", money(summary["total_savings_usd"]))
    second.metric("Savings %", percent(summary["savings_percentage"]))
    third.metric("ROI", percent(summary["roi_percentage"]))
    first.metric("Cost", money(summary["total_cost_usd"]))
    second.metric("Baseline cost", money(summary["total_baseline_cost_usd"]))
    third.metric("Net benefit", money(summary["net_benefit_usd"]))


def roi_page() -> None:
    viewer, month = st.session_state["viewer_object"], month_choice()
    st.title("ROI calculator")
    summary = cached("executive_summary", viewer, month)
    savings = cached("savings", viewer, month)["total_savings_usd"]
    fee = st.number_input("Platform fee per developer and month, USD", min_value=0.0,
                          value=float(summary.get("platform_fee_per_developer_usd") or 25),
                          step=1.0)  # fmt: skip
    default_developers = int(summary.get("total_developers") or 10)
    developers = int(st.number_input("Developers", min_value=1, value=default_developers, step=1))
    result = data.roi_what_if(Decimal(str(savings)), Decimal(str(fee)), developers)
    first, second, third = st.columns(3)
    first.metric(f"Savings in {month:%B %Y}", money(savings))
    second.metric("Platform fee", money(result["platform_fee_usd"]))
    third.metric("ROI", percent(result["roi_percentage"]))
    st.metric("Net benefit", money(result["net_benefit_usd"]))


viewer = pick_viewer()
if viewer is not None:
    st.session_state["viewer_object"] = viewer
    navigation = st.navigation([
        st.Page(savings_page, title="Savings", url_path="savings", default=True),
        st.Page(log_page, title="Task log", url_path="log"),
        st.Page(providers_page, title="Providers", url_path="providers"),
        st.Page(teams_page, title="Teams", url_path="teams"),
        st.Page(summary_page, title="Executive summary", url_path="summary"),
        st.Page(roi_page, title="ROI calculator", url_path="roi"),
    ])  # fmt: skip
    navigation.run()
