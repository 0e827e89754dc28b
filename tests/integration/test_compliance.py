"""Jurisdiction profiles and the promo linter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.bonus_support import template
from tests.integration.support import assert_error, assert_validation, body, create_player


async def test_a_brand_starts_on_the_default_profile_and_can_be_set_to_gb(
    tenant: Tenant,
) -> None:
    r = await tenant.get("/v1/brands/main/jurisdiction")
    assert r.status_code == 200, r.text
    assert body(r)["jurisdiction"]["profile"] == "default"
    r = await tenant.client.put("/v1/brands/main/jurisdiction", headers=tenant.headers(),
                                json={"profile": "GB", "overrides": {"min_age": 21}})
    assert r.status_code == 200, r.text
    rules = body(r)["jurisdiction"]["rules"]
    assert rules["max_wagering_multiple"] == 10 and rules["min_age"] == 21
    assert_error(await tenant.get("/v1/brands/elsewhere/jurisdiction"), 404, "NOT_FOUND")
    r = await tenant.client.put("/v1/brands/main/jurisdiction", headers=tenant.headers(),
                                json={"profile": "XX"})
    assert_validation(r, "profile")
    r = await tenant.client.put("/v1/brands/main/jurisdiction", headers=tenant.headers(),
                                json={"profile": "GB", "overrides": {"blocked_countries":
                                                                     ["ZZ"]}})
    assert_validation(r, "overrides.blocked_countries")


async def test_a_template_breaking_the_profile_is_linted_and_refused_at_grant_with_audit(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await tenant.client.put("/v1/brands/main/jurisdiction", headers=tenant.headers(),
                            json={"profile": "GB"})
    made = await template(tenant, wagering_multiple=35)
    assert made["lint"] == [{"brand": "main", "profile": "GB", "rule": "max_wagering_multiple",
                             "detail": "wagering_multiple 35 exceeds 10"}]
    r = await tenant.post("/v1/bonuses/grant", {"player_id": "alice", "template": made["id"]})
    refusal = assert_error(r, 403, "PROMO_RULE_VIOLATION")
    assert refusal["details"]["rule"] == "max_wagering_multiple"
    assert refusal["details"]["profile"] == "GB"
    async with engine.connect() as conn:
        audited = (await conn.execute(text(
            "SELECT after ->> 'rule' FROM audit_log WHERE action = 'compliance.refused'"))
        ).scalars().all()
        granted = await conn.scalar(text("SELECT count(*) FROM bonuses"))
    assert audited == ["max_wagering_multiple"] and granted == 0
    r = await tenant.patch(f"/v1/bonus-templates/{made['id']}", {"wagering_multiple": 10})
    assert body(r)["template"]["lint"] == []
    r = await tenant.post("/v1/bonuses/grant", {"player_id": "alice", "template": made["id"]})
    assert r.status_code == 201, r.text


async def test_bonuses_off_blocked_countries_and_minimum_age_refuse_grants(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "young", date_of_birth="2010-05-01")
    await create_player(tenant, "abroad", country_code="FR")
    made = await template(tenant)
    await tenant.client.put("/v1/brands/main/jurisdiction", headers=tenant.headers(),
                            json={"profile": "default",
                                  "overrides": {"blocked_countries": ["FR"]}})
    r = await tenant.post("/v1/bonuses/grant", {"player_id": "young", "template": made["id"]})
    assert assert_error(r, 403, "PROMO_RULE_VIOLATION")["details"]["rule"] == "min_age"
    r = await tenant.post("/v1/bonuses/grant", {"player_id": "abroad", "template": made["id"]})
    assert assert_error(r, 403, "PROMO_RULE_VIOLATION")["details"]["rule"] == \
        "blocked_countries"
    await tenant.client.put("/v1/brands/main/jurisdiction", headers=tenant.headers(),
                            json={"profile": "DE", "overrides": {"bonuses_allowed": False}})
    r = await tenant.post("/v1/bonuses/grant", {"player_id": "abroad", "template": made["id"]})
    assert assert_error(r, 403, "PROMO_RULE_VIOLATION")["details"]["rule"] == \
        "bonuses_allowed"
