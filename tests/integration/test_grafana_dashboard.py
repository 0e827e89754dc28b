"""docs/grafana-dashboard.json charts only what the API exports: every metric and label
its queries name is in the answer of ``GET /metrics``, so a renamed metric breaks this
test rather than the operator's dashboard. And docs/operations.md lists every metric
``/metrics`` exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD = DOCS / "grafana-dashboard.json"
# labels Prometheus attaches to every series it scrapes
SCRAPE_LABELS = {"instance", "job"}
# PromQL words that are neither functions (followed by "(") nor metrics
KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def queries(node: Any) -> list[str]:
    """Every ``expr`` in the dashboard, wherever a panel keeps it."""
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [q for value in node.values() for q in queries(value)]
    if isinstance(node, list):
        return [q for value in node for q in queries(value)]
    return []


def parse(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names a PromQL expression uses."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    labels = {name.strip() for group in _GROUPING.findall(expr) for name in group.split(",")
              if name.strip()}
    labels |= {m.group(1) for matchers in _MATCHERS.findall(expr)
               for m in re.finditer(r"(\w+)\s*(?:=~|!~|!=|=)", matchers)}
    bare = _MATCHERS.sub("", _GROUPING.sub("", expr))
    metrics = set()
    for m in _IDENTIFIER.finditer(bare):
        if bare[m.end():].lstrip().startswith("(") or m.group() in KEYWORDS:
            continue  # a function or an operator
        metrics.add(m.group())
    return metrics, labels


def exported(text: str) -> tuple[set[str], set[str]]:
    """The sample names and label names of a Prometheus text exposition."""
    names, labels = set(), set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group())  # type: ignore[union-attr]
        labels |= set(re.findall(r'(\w+)="', line.partition(" ")[0]))
    return names, labels


def test_the_query_reader_finds_metrics_and_labels() -> None:
    metrics, labels = parse('histogram_quantile(0.99, sum by (le, route) (rate('
                            'wowsino_http_request_seconds_bucket{status=~"5..",method!="GET"}'
                            '[$__rate_interval]))) / on (route) group_left other_metric')
    assert metrics == {"wowsino_http_request_seconds_bucket", "other_metric"}
    assert labels == {"le", "route", "status", "method"}


async def test_every_metric_and_label_the_dashboard_charts_is_exported(
        client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200  # a request: samples to read
    r = await client.get("/metrics")
    assert r.status_code == 200
    names, labels = exported(r.text)
    assert "wowsino_http_request_seconds_bucket" in names

    dashboard = json.loads(DASHBOARD.read_text())
    exprs = queries(dashboard["panels"])
    assert len(exprs) >= len(dashboard["panels"]) >= 8
    unknown, unlabelled, empty = set(), set(), []
    for expr in exprs:
        metrics, used = parse(expr)
        if not metrics:
            empty.append(expr)
        unknown |= metrics - names
        unlabelled |= used - labels - SCRAPE_LABELS
    legends = {m for panel in dashboard["panels"] for target in panel["targets"]
               for m in re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", ""))}
    unlabelled |= legends - labels - SCRAPE_LABELS
    assert not unknown, f"the dashboard charts metrics /metrics does not export: {unknown}"
    assert not unlabelled, f"the dashboard uses labels no metric has: {unlabelled}"
    assert not empty, f"queries naming no metric: {empty}"


async def test_the_operations_guide_lists_every_exported_metric(
        client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    text = (await client.get("/metrics")).text
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE))
    assert "wowsino_http_request_seconds" in families
    section = (DOCS / "operations.md").read_text().partition("### Metrics")[2]
    rows = dict(re.findall(r"^\| `(\w+)` \| (\w+)", section, flags=re.MULTILINE))
    missing = {name: kind for name, kind in families.items() if rows.get(name) != kind}
    assert not missing, f"metrics docs/operations.md does not list with their type: {missing}"
