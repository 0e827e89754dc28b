"""A brand's keys never reveal another brand's players: raffle ticket lists name
pseudonymous holders, a draw names its winner only to the winner's brand, and the audit
log leaves out rows about other brands' players."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from typer.testing import CliRunner

from tests.conftest import ADMIN, Tenant
from tests.integration.support import adjust, assert_error, bearer, create_key, create_player
from tests.integration.wl_support import make_white_label, register
from wowsino.cli import app as cli_app
from wowsino.kernel import fairness


@dataclass
class Brands:
    """One tenant with brands ``main`` (alice, amy) and ``other`` (zed), a key for each."""

    tenant: Tenant
    main: dict[str, str]
    other: dict[str, str]
    players: dict[str, dict[str, Any]]

    async def get(self, path: str, key: dict[str, str]) -> httpx.Response:
        return await self.tenant.client.get(path, headers=key)

    async def post(self, path: str, body: Any, key: dict[str, str]) -> httpx.Response:
        return await self.tenant.client.post(path, json=body, headers=key)


async def two_brands(client: httpx.AsyncClient, tenant: Tenant) -> Brands:
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "other", "name": "Other"})
    assert r.status_code == 201, r.text
    other_key = await create_key(client, tenant, ["*"], brand="other")
    other = bearer(other_key["key"])
    players = {name: await create_player(tenant, name) for name in ("alice", "amy")}
    r = await client.post("/v1/players", headers=other,
                          json={"username": "zed", "email": "zed@other.example"})
    assert r.status_code == 201, r.text
    players["zed"] = r.json()["player"]
    for name in ("alice", "amy"):
        assert (await adjust(tenant, name, 1000, rail="winz", asset="WINZ")).status_code == 201
    r = await client.post("/v1/players/zed/adjustments", headers=other, json={
        "rail": "winz", "asset": "WINZ", "amount": 1000, "reason": "welcome"})
    assert r.status_code == 201, r.text
    return Brands(tenant, tenant.headers(), other, players)


def identities(brands: Brands, *names: str) -> list[str]:
    """What would reveal these players: usernames, ids, emails."""
    found = []
    for name in names:
        player = brands.players[name]
        found += [name, player["user_id"], player["email"]]
    return found


async def raffle_with_entries(brands: Brands) -> str:
    r = await brands.post("/v1/raffles", {"name": "Mixed", "ticket_cost_winz": 10,
                                          "prize_winz": 100}, brands.main)
    raffle_id: str = r.json()["raffle"]["id"]
    for name, key, count in (("alice", brands.main, 2), ("zed", brands.other, 3),
                             ("alice", brands.main, 1), ("amy", brands.main, 1)):
        r = await brands.post(f"/v1/raffles/{raffle_id}/enter",
                              {"user_id": name, "tickets": count}, key)
        assert r.status_code == 201, r.text
    return raffle_id


async def test_the_ticket_list_names_no_player_before_or_after_the_draw(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    brands = await two_brands(client, tenant)
    raffle_id = await raffle_with_entries(brands)
    before = await brands.get(f"/v1/raffles/{raffle_id}/tickets", brands.main)
    assert before.status_code == 200
    for secret in identities(brands, "alice", "amy", "zed"):
        assert secret not in before.text, secret
    holders = [e["holder_id"] for e in before.json()["entries"]]
    assert holders[0] == holders[2] and len(set(holders)) == 3
    assert set(before.json()["entries"][0]) == {"first_ticket_idx", "holder_id", "tickets"}

    drawn = await brands.post(f"/v1/raffles/{raffle_id}/draw", {}, brands.main)
    assert drawn.status_code == 201, drawn.text
    after = (await brands.get(f"/v1/raffles/{raffle_id}/tickets", brands.main)).json()
    assert after["ticket_list"] == before.json()["ticket_list"]
    for secret in identities(brands, "alice", "amy", "zed"):
        assert secret not in json.dumps(after), secret
    # the revealed seeds do not turn holder ids back into players either
    for name, player in brands.players.items():
        for key in (bytes.fromhex(after["server_seed"]), after["server_seed"].encode(),
                    after["client_seed"].encode()):
            for message in (player["user_id"], name):
                for candidate in (hmac.new(key, message.encode(), hashlib.sha256).hexdigest(),
                                  hmac.new(key, b"raffle-holder:" + message.encode(),
                                           hashlib.sha256).hexdigest(),
                                  hashlib.sha256(message.encode()).hexdigest()):
                    assert not any(candidate.startswith(h[4:]) for h in holders)


async def test_the_published_list_reproduces_the_client_seed_and_the_winner_offline(
    client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    brands = await two_brands(client, tenant)
    raffle_id = await raffle_with_entries(brands)
    draw = (await brands.post(f"/v1/raffles/{raffle_id}/draw", {}, brands.main)).json()
    published = (await brands.get(f"/v1/raffles/{raffle_id}/tickets", brands.other)).json()
    data = published["ticket_list"].encode()
    assert fairness.canonical_json(published["entries"]) == data
    assert fairness.sha256_hex(data) == published["client_seed"] == draw["client_seed"]
    path = tmp_path / "tickets.json"
    path.write_bytes(data)
    args = ["fairness", "verify", "--server-seed", draw["server_seed"], "--server-seed-hash",
            draw["server_seed_hash"], "--client-seed", draw["client_seed"],
            "--ticket-list", str(path), "--expect-index", str(draw["winning_ticket_idx"]),
            "--expect-holder", draw["winner"]["holder_id"]]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    path.write_bytes(data.replace(b'"tickets":1', b'"tickets":2', 1))
    assert CliRunner().invoke(cli_app, args).exit_code == 1


async def test_a_player_learns_their_own_tickets_and_holder_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    brands = await two_brands(client, tenant)
    raffle_id = await raffle_with_entries(brands)
    listed = (await brands.get(f"/v1/raffles/{raffle_id}/tickets", brands.main)).json()
    mine = (await brands.get(f"/v1/raffles/{raffle_id}/entries/alice", brands.main)).json()
    assert mine["user"]["username"] == "alice" and mine["tickets"] == 3
    assert [(e["first_ticket_idx"], e["tickets"]) for e in mine["entries"]] == [(0, 2), (5, 1)]
    assert [e["first_ticket_idx"] for e in listed["entries"]
            if e["holder_id"] == mine["holder_id"]] == [0, 5]
    by_id = await brands.get(f"/v1/raffles/{raffle_id}/entries/{mine['user']['user_id']}",
                             brands.main)
    assert by_id.json()["holder_id"] == mine["holder_id"]
    # another brand's player is not found, by name or by id
    for ref in ("zed", brands.players["zed"]["user_id"]):
        r = await brands.get(f"/v1/raffles/{raffle_id}/entries/{ref}", brands.main)
        assert_error(r, 404, "NO_PLAYER")
    # a holder id belongs to one raffle: the same player is unlinkable across raffles
    second = (await brands.post("/v1/raffles", {"name": "Next", "ticket_cost_winz": 0,
                                                "prize_winz": 1}, brands.main)).json()
    await brands.post(f"/v1/raffles/{second['raffle']['id']}/enter",
                      {"user_id": "alice", "tickets": 1}, brands.main)
    again = (await brands.get(f"/v1/raffles/{second['raffle']['id']}/entries/alice",
                              brands.main)).json()
    assert again["holder_id"] != mine["holder_id"]


async def test_a_draw_names_its_winner_only_to_the_winners_brand(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    brands = await two_brands(client, tenant)
    r = await brands.post("/v1/raffles", {"name": "Zed wins", "ticket_cost_winz": 10,
                                          "prize_winz": 100}, brands.main)
    raffle_id = r.json()["raffle"]["id"]
    await brands.post(f"/v1/raffles/{raffle_id}/enter", {"user_id": "zed", "tickets": 1},
                      brands.other)
    drawn = await brands.post(f"/v1/raffles/{raffle_id}/draw", {}, brands.main)
    assert drawn.status_code == 201, drawn.text
    holder = drawn.json()["winner"]["holder_id"]
    assert drawn.json()["winner"] == {"holder_id": holder, "user_id": None, "username": None}
    assert drawn.json()["winner_username"] is None
    for path in (f"/v1/raffles/{raffle_id}", "/v1/raffles"):
        seen = await brands.get(path, brands.main)
        for secret in identities(brands, "zed"):
            assert secret not in seen.text, (path, secret)
        assert holder in seen.text
    own = (await brands.get(f"/v1/raffles/{raffle_id}", brands.other)).json()["raffle"]
    assert own["draw"]["winner"] == {"holder_id": holder, "username": "zed",
                                     "user_id": brands.players["zed"]["user_id"]}


async def test_a_raffle_settled_before_holder_ids_withholds_its_list(
    client: httpx.AsyncClient, tenant: Tenant, engine: Any
) -> None:
    brands = await two_brands(client, tenant)
    raffle_id = await raffle_with_entries(brands)
    draw = (await brands.post(f"/v1/raffles/{raffle_id}/draw", {}, brands.main)).json()
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE raffles SET ticket_format = 1 WHERE id = :id"),
                           {"id": raffle_id})
    listed = (await brands.get(f"/v1/raffles/{raffle_id}/tickets", brands.main)).json()
    assert listed["ticket_list"] is None and listed["client_seed"] == draw["client_seed"]
    for secret in identities(brands, "alice", "amy", "zed"):
        assert secret not in json.dumps(listed), secret


async def test_the_audit_log_leaves_out_other_brands_players(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    brands = await two_brands(client, tenant)
    r = await brands.post("/v1/raffles", {"name": "Zed wins", "ticket_cost_winz": 10,
                                          "prize_winz": 100}, brands.other)
    raffle_id = r.json()["raffle"]["id"]
    await brands.post(f"/v1/raffles/{raffle_id}/enter", {"user_id": "zed", "tickets": 1},
                      brands.other)
    assert (await brands.post(f"/v1/raffles/{raffle_id}/draw", {}, brands.other)).status_code \
        == 201
    main_rows = (await brands.get("/v1/audit?limit=500", brands.main)).json()["data"]
    other_rows = (await brands.get("/v1/audit?limit=500", brands.other)).json()["data"]
    seen_by_main = json.dumps(main_rows)
    for secret in identities(brands, "zed"):
        assert secret not in seen_by_main, secret
    main_actions = {row["action"] for row in main_rows}
    # tenant-wide rows and the brand's own players stay visible
    assert {"raffle.created", "player.created", "player.adjusted"} <= main_actions
    assert "raffle.drawn" not in main_actions
    assert brands.players["alice"]["user_id"] in seen_by_main
    # the other brand sees its own player's rows, its draw, and not main's players
    seen_by_other = json.dumps(other_rows)
    assert brands.players["zed"]["user_id"] in seen_by_other
    assert "raffle.drawn" in {row["action"] for row in other_rows}
    for secret in identities(brands, "alice", "amy"):
        assert secret not in seen_by_other, secret
    # filtering by another brand's player finds nothing either
    r = await brands.get(f"/v1/audit?target=player:{brands.players['zed']['user_id']}",
                         brands.main)
    assert r.status_code == 200 and r.json()["data"] == []


async def test_jackpot_winners_are_named_only_to_their_own_brand(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    brands = await two_brands(client, tenant)
    r = await brands.post("/v1/jackpots", {"name": "Shared pot", "currency": "USD",
                                           "seed_usd": 50, "contribution_pct": 1}, brands.main)
    assert r.status_code == 201, r.text
    jackpot_id = r.json()["jackpot"]["id"]
    r = await brands.post(f"/v1/jackpots/{jackpot_id}/contribute",
                          {"user_id": "zed", "source_wager_id": "w-1", "amount": 10},
                          brands.other)
    assert r.status_code == 201, r.text
    # main drops the pool; by default it goes to the round's last contributor, zed
    dropped = await brands.post(f"/v1/jackpots/{jackpot_id}/drop", {}, brands.main)
    assert dropped.status_code == 201, dropped.text
    assert dropped.json()["drop"]["winner"] == {"user_id": None, "username": None}
    for path in ("/v1/jackpots", f"/v1/jackpots/{jackpot_id}",
                 f"/v1/jackpots/{jackpot_id}/drops"):
        seen = await brands.get(path, brands.main)
        assert seen.status_code == 200, seen.text
        for secret in identities(brands, "zed"):
            assert secret not in seen.text, (path, secret)
        own = await brands.get(path, brands.other)
        assert "zed" in own.text, path


async def test_a_contribution_that_drops_to_another_brands_player_does_not_name_them(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    brands = await two_brands(client, tenant)
    r = await brands.post("/v1/jackpots", {"name": "Must drop", "currency": "USD",
                                           "seed_usd": 10, "must_drop_at": 11}, brands.main)
    assert r.status_code == 201, r.text
    path = f"/v1/jackpots/{r.json()['jackpot']['id']}"
    r = await brands.post(f"{path}/contribute", {"user_id": "zed", "source_wager_id": "z1",
                                                 "amount": "0.50"}, brands.other)
    assert r.status_code == 201, r.text
    # alice may feed the pool but not win it: the round's last eligible contributor wins
    r = await client.patch("/v1/players/alice/status", headers=brands.main,
                           json={"status": "suspended", "reason": "review"})
    assert r.status_code == 200, r.text
    r = await brands.post(f"{path}/contribute", {"user_id": "alice", "source_wager_id": "a1",
                                                 "amount": "1.00"}, brands.main)
    assert r.status_code == 201, r.text
    dropped = r.json()["dropped"]
    assert dropped is not None, r.text
    assert dropped["winner"] == {"user_id": None, "username": None}, r.text
    for secret in identities(brands, "zed"):
        assert secret not in r.text


async def test_a_brands_site_reads_the_catalogue_without_any_players_identity(
    client: httpx.AsyncClient,
) -> None:
    """A publishable key (in a browser) reads the public listings: configuration and
    fairness data, a leaderboard by username only, and no player's id, email or win."""
    wl = await make_white_label(client)
    ids = {name: (await register(wl, name))["user_id"] for name in ("alice", "bob")}
    for name in ids:
        assert (await adjust(wl, name, 1000, rail="winz", asset="WINZ")).status_code == 201
    site = wl.site()
    raffle = (await wl.post("/v1/raffles", {"name": "R", "ticket_cost_winz": 1,
                                            "prize_winz": 10})).json()["raffle"]["id"]
    assert (await wl.post(f"/v1/raffles/{raffle}/enter",
                          {"user_id": "alice", "tickets": 1})).status_code == 201
    assert (await wl.post(f"/v1/raffles/{raffle}/draw", {})).status_code == 201
    pot = (await wl.post("/v1/jackpots", {"name": "J", "currency": "USD",
                                          "seed_usd": 5})).json()["jackpot"]["id"]
    assert (await wl.post(f"/v1/jackpots/{pot}/contribute", {
        "user_id": "bob", "source_wager_id": "w-1", "amount": 1})).status_code == 201
    assert (await wl.post(f"/v1/jackpots/{pot}/drop", {})).status_code == 201
    race = (await wl.post("/v1/tournaments", {
        "name": "T", "scoring": "sum_wagered", "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2026-01-08T00:00:00Z", "prize_table": [
            {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1}}]})
            ).json()["tournament"]["id"]
    for i, name in enumerate(ids):
        assert (await wl.post(f"/v1/tournaments/{race}/score", {
            "user_id": name, "source_wager_id": f"t-{i}", "amount": 1 + i})).status_code == 201
    box = (await wl.post("/v1/lootbox", {"name": "B", "prize_table": [
        {"segment_label": "x", "weight": 1, "asset": "WINZ", "amount": 1}]})).json()
    secrets = [*ids.values(), "alice@example.com", "bob@example.com"]
    for path in ("/v1/raffles", f"/v1/raffles/{raffle}", f"/v1/raffles/{raffle}/tickets",
                 "/v1/jackpots", f"/v1/jackpots/{pot}", f"/v1/jackpots/{pot}/drops",
                 "/v1/tournaments", f"/v1/tournaments/{race}", "/v1/lootbox",
                 f"/v1/lootbox/{box['lootbox']['id']}", "/v1/mini-games"):
        r = await client.get(path, headers=site)
        assert r.status_code == 200, (path, r.text)
        for secret in [*secrets, "alice", "bob"]:
            assert secret not in r.text, (path, secret)
    # the brand's own key still names its winners
    assert "alice" in (await wl.get(f"/v1/raffles/{raffle}")).text
    assert "bob" in (await wl.get(f"/v1/jackpots/{pot}/drops")).text
    # a leaderboard shows the brand's players by username, never by id
    board = await client.get(f"/v1/tournaments/{race}/leaderboard", headers=site)
    assert board.status_code == 200, board.text
    assert [row["user"] for row in board.json()["data"]] == [
        {"user_id": None, "username": "bob"}, {"user_id": None, "username": "alice"}]
    for secret in secrets:
        assert secret not in board.text
    assert_error(await client.get(f"/v1/tournaments/{race}/leaderboard?around=alice",
                                  headers=site), 403, "SCOPE_DENIED")
    # and nothing about one player, nor any write
    for method, path in (("GET", f"/v1/lootbox/{box['lootbox']['id']}/opens"),
                         ("GET", f"/v1/raffles/{raffle}/entries/alice"),
                         ("GET", "/v1/players/alice/vip"), ("GET", "/v1/me"),
                         ("POST", f"/v1/lootbox/{box['lootbox']['id']}/open"),
                         ("POST", "/v1/lootbox")):
        r = await client.request(method, path, headers=site, json={"user_id": "alice"})
        assert_error(r, 403, "SCOPE_DENIED")
