"""The console's dashboard: every figure is what the engines recorded, day by day, with
a chart per figure that reads without JavaScript."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.bonus_support import bet, grant, template
from tests.integration.console_support import signed_in_operator
from tests.integration.support import adjust, create_player
from tests.integration.test_jackpots import make_jackpot
from wowsino.console.charts import bar_chart

ROW = re.compile(r'<tr><th scope="row">(\d{4}-\d\d-\d\d)</th>(.*?)</tr>', re.S)
CELL = re.compile(r'<td class="num">([^<]*)</td>')
KPI = re.compile(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>")


class Svg(HTMLParser):
    """The root's attributes and each bar's class, height and tooltip of an SVG chart."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.root: dict[str, str | None] = {}
        self.bars: list[dict[str, str | None]] = []
        self._in_bar = False
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.root = dict(attrs)
        elif tag == "rect":
            self.bars.append(dict(attrs))
            self._in_bar = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "rect":
            self._in_bar = False

    def handle_data(self, data: str) -> None:
        if self._in_bar:
            self.bars[-1]["tooltip"] = data


def daily(page: str) -> dict[str, list[str]]:
    return {day: CELL.findall(cells) for day, cells in ROW.findall(page)}


def columns(page: str) -> list[str]:
    """The figures of the day-by-day table, in order."""
    table = page[page.index('<table class="daily">'):]
    return re.findall(r'<th scope="col" class="num">([^<]+)</th>', table)


async def test_the_dashboard_shows_what_the_engines_recorded_day_by_day(
    client: httpx.AsyncClient, tenant: Tenant, clock: Any, app: Any,
) -> None:
    yesterday = clock.now().date()
    for name in ("alice", "bob"):
        await create_player(tenant, name)
    await bet(tenant, "w1", "10.00", user="alice", win_amount="4.00")
    await bet(tenant, "w2", "5.00", user="bob")
    assert (await adjust(tenant, "alice", 100, rail="winz", asset="WINZ")).status_code == 201
    await make_jackpot(tenant, name="Mega", seed_usd=1000)
    clock.advance(timedelta(days=1))
    today = clock.now().date()
    await create_player(tenant, "carol")
    await bet(tenant, "w3", "20.00", user="alice", win_amount="50.00")
    made = await template(tenant, amount="10.00", wagering_multiple=1)
    await grant(tenant, made["id"], user="bob")
    await bet(tenant, "w4", "10.00", user="bob")
    # the live realm stays out of the test realm's figures
    await create_player(tenant, "dave", mode="live")

    await signed_in_operator(app, client, tenant.id, "owner")
    r = await client.get("/admin/tenants/acme/test/dashboard", params={"period": "7d"})
    assert r.status_code == 200, r.text
    page = r.text
    rows = daily(page)
    assert len(rows) == 7 and next(iter(rows)) == today.isoformat()
    headers = columns(page)
    assert headers[:5] == ["New players", "Active players", "GGR (real money staked less won)",
                           "Bonus cost (converted to real money)", "WINZ issued"]
    column = dict(zip(headers, range(len(headers)), strict=False))
    first, second = rows[yesterday.isoformat()], rows[today.isoformat()]

    def at(row: list[str], name: str) -> str:
        return row[column[name]]

    assert (at(first, "New players"), at(second, "New players")) == ("2", "1")
    assert (at(first, "Active players"), at(second, "Active players")) == ("2", "2")
    ggr = "GGR (real money staked less won)"
    assert (at(first, ggr), at(second, ggr)) == ("11.00", "-20.00")
    cost = "Bonus cost (converted to real money)"
    assert (at(first, cost), at(second, cost)) == ("0.00", "10.00")
    assert (at(first, "WINZ issued"), at(second, "WINZ issued")) == ("100", "0")
    quiet = rows[(today - timedelta(days=3)).isoformat()]
    assert set(quiet) <= {"0", "0.00"}
    kpis = dict(KPI.findall(page))
    assert kpis["Players"] == "3" and kpis["Active players in the period"] == "2"
    assert kpis[ggr] == "-9.00 USD" and kpis[cost] == "10.00 USD"
    assert "Deposits" not in headers  # a plug-in tenant has no wallet
    assert re.search(r"<td>Mega</td>.*?1,000.00 USD", page, re.S)
    # a chart per figure, each a labelled SVG image with a bar per day
    charts = re.findall(r'<svg class="chart".*?</svg>', page, re.S)
    assert len(charts) == len(headers)
    for svg in charts:
        chart = Svg(svg)
        assert chart.root["role"] == "img" and len(chart.bars) == 7
    # another period and an unknown one (the default, 30 days)
    r = await client.get("/admin/tenants/acme/test/dashboard", params={"period": "90d"})
    assert len(daily(r.text)) == 90
    r = await client.get("/admin/tenants/acme/test/dashboard",
                         params={"period": "1y", "currency": "<b>"})
    assert r.status_code == 200 and len(daily(r.text)) == 30 and "<b>" not in r.text
    r = await client.get("/admin/tenants/acme/live/dashboard")
    assert dict(KPI.findall(r.text))["Players"] == "1"
    assert (await client.get("/admin/tenants/nobody/test/dashboard")).status_code == 404


def test_a_chart_escapes_its_text_and_draws_losses_below_the_line() -> None:
    from datetime import date

    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(3)]
    svg = str(bar_chart("<script>GGR</script>", days, [5.0, -2.5, 0.0], "USD"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    bars = Svg(svg).bars
    assert [b["class"] for b in bars] == ["bar", "bar negative", "bar"]
    assert [b["tooltip"] for b in bars] == ["2026-01-01: 5 USD", "2026-01-02: -2.5 USD",
                                            "2026-01-03: 0 USD"]
    heights = [Decimal(b["height"] or "0") for b in bars]
    assert abs(heights[0] - 2 * heights[1]) <= Decimal("0.1") and heights[2] == 0
