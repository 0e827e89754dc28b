"""VIP queries: every one takes the realm. The jurisdiction's ``vip_allowed`` rides in the
statements that need it (``compliance.service.rule_sql``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance.service import rule_sql
from wowsino.kernel import wire
from wowsino.kernel.canonical import canonical
from wowsino.kernel.db import retry_on_conflict
from wowsino.kernel.jsonio import loads
from wowsino.kernel.realm import Realm

ALLOWED, ALLOWED_PARAMS = rule_sql("vip_allowed", "p.brand_id")
CONFIG_COLUMNS = ("xp_per_unit, xp_daily_cap, timezone, cashback_period, cashback_as, "
                  "cashback_template_id, levels, version, cashback_paid_until, created_at, "
                  "updated_at")


def _json(value: Any) -> Any:
    return loads(value) if isinstance(value, str) else value


async def config(conn: AsyncConnection, realm: Realm) -> dict[str, Any] | None:
    row = (await conn.execute(
        text(f"SELECT {CONFIG_COLUMNS} FROM vip_configs WHERE tenant_id = :tenant_id "
             "AND mode = :mode"), realm.params)).first()
    return None if row is None else dict(row._mapping)


async def put_config(conn: AsyncConnection, realm: Realm, values: dict[str, Any],
                     at: datetime) -> None:
    await conn.execute(
        text("INSERT INTO vip_configs AS c (tenant_id, mode, xp_per_unit, xp_daily_cap, "
             "timezone, cashback_period, cashback_as, cashback_template_id, levels, created_at, "
             "updated_at) VALUES (:tenant_id, :mode, :xp_per_unit, :xp_daily_cap, :timezone, "
             ":cashback_period, :cashback_as, :cashback_template_id, CAST(:levels AS jsonb), "
             ":at, :at) ON CONFLICT (tenant_id, mode) DO UPDATE SET "
             "xp_per_unit = excluded.xp_per_unit, xp_daily_cap = excluded.xp_daily_cap, "
             "timezone = excluded.timezone, cashback_period = excluded.cashback_period, "
             "cashback_as = excluded.cashback_as, "
             "cashback_template_id = excluded.cashback_template_id, levels = excluded.levels, "
             "version = c.version + 1, updated_at = excluded.updated_at"),
        {**realm.params, **values, "levels": canonical(values["levels"]).decode(), "at": at})


async def timezone_known(conn: AsyncConnection, name: str) -> bool:
    """Whether PostgreSQL knows the time zone (it computes the local days)."""
    return bool(await conn.scalar(
        text("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = :name)"),
        {"name": name}))


# Every player placed on a new ladder by their XP (a brand without VIP: the base level),
# with the level each had: the "old values" come from a locking sub-select of the rows.
_REPLACE = (
    "UPDATE vip_players vp SET level = placed.level, level_changed_at = :at FROM ("
    " SELECT v.player_id, v.level AS before, p.brand_id, p.username, "
    f"  CASE WHEN {ALLOWED} THEN (SELECT max(l.level) FROM jsonb_to_recordset("
    "   CAST(:levels AS jsonb)) AS l (level integer, xp_required bigint) "
    "   WHERE l.xp_required <= v.xp) ELSE :base END AS level, "
    f"  {ALLOWED} AS allowed "
    " FROM vip_players v JOIN players p ON p.tenant_id = v.tenant_id AND p.id = v.player_id "
    " WHERE v.tenant_id = :tenant_id AND v.mode = :mode ORDER BY v.player_id FOR UPDATE OF v"
    ") placed WHERE vp.tenant_id = :tenant_id AND vp.mode = :mode "
    "AND vp.player_id = placed.player_id AND vp.level <> placed.level "
    "RETURNING vp.player_id, placed.brand_id, placed.username, placed.before, vp.level, "
    "placed.allowed"
)


async def replace_levels(conn: AsyncConnection, realm: Realm, levels: list[dict[str, Any]],
                         base: int, at: datetime) -> list[dict[str, Any]]:
    """Re-place every player on ``levels``; the players whose level changed."""
    rows = await conn.execute(text(_REPLACE), {
        **realm.params, **ALLOWED_PARAMS, "at": at, "base": base,
        "levels": canonical([{"level": x["level"], "xp_required": x["xp_required"]}
                             for x in levels]).decode()})
    return [dict(r._mapping) for r in rows]


# The spine's first statement (see ``xp.apply``): the programme, each real wager's local day
# (in the programme's time zone) for the players of brands allowing VIP, and the day rows
# of those players locked (created at zero when new) with their XP so far. No programme:
# no row, and nothing else is read or written.
_DAYS = (
    "WITH cfg AS (SELECT xp_per_unit, xp_daily_cap, timezone, levels FROM vip_configs "
    " WHERE tenant_id = :tenant_id AND mode = :mode), "
    "w AS (SELECT w.i, w.player_id, "
    f"  ({wire.instant('at', 'w.at_ix')} AT TIME ZONE cfg.timezone)::date AS day, "
    "  w.currency = p.currency AS own FROM cfg, unnest(CAST(:players AS uuid[]), "
    "  CAST(:currencies AS text[]), CAST(:at_ix AS integer[])) WITH ORDINALITY "
    "  AS w (player_id, currency, at_ix, i) "
    "  JOIN players p ON p.tenant_id = :tenant_id AND p.mode = :mode AND p.id = w.player_id "
    f" WHERE {ALLOWED}), "
    "d AS (INSERT INTO vip_days AS d (tenant_id, mode, player_id, day) "
    " SELECT DISTINCT CAST(:tenant_id AS uuid), CAST(:mode AS text), player_id, day FROM w "
    " ORDER BY 3, 4 ON CONFLICT (tenant_id, mode, player_id, day) DO UPDATE SET xp = d.xp "
    " RETURNING player_id, day, xp) "
    "SELECT cfg.xp_per_unit, cfg.xp_daily_cap, cfg.timezone, cfg.levels, "
    " coalesce((SELECT json_agg(json_build_array(w.i, w.day, w.own) ORDER BY w.i) FROM w), "
    "  '[]') AS wagers, "
    " coalesce((SELECT json_agg(json_build_array(d.player_id, d.day, d.xp)) FROM d), '[]') "
    "  AS days FROM cfg"
)


async def lock_days(conn: AsyncConnection, realm: Realm, players: list[UUID],
                    currencies: list[str], at: list[datetime]) -> dict[str, Any] | None:
    """``_DAYS`` over real wagers given as arrays in batch order (``wagers`` rows are
    ``[index from 1, day, in the player's currency]``); None without a programme."""
    rows = wire.mapped(await wire.send(conn, _DAYS, {
        **realm.params, **ALLOWED_PARAMS, "players": players, "currencies": currencies,
        **wire.instants("at", at)}))
    if not rows:
        return None
    return {**rows[0], **{k: _json(rows[0][k]) for k in ("levels", "wagers", "days")}}


_LOCK_PLAYERS = (
    "INSERT INTO vip_players AS vp (tenant_id, mode, player_id, level, xp, level_changed_at) "
    "SELECT :tenant_id, :mode, p, :base, 0, :at FROM unnest(CAST(:players AS uuid[])) AS p "
    "ORDER BY p ON CONFLICT (tenant_id, mode, player_id) DO UPDATE SET level = vp.level "
    "RETURNING player_id, level, xp"
)


async def lock_players(conn: AsyncConnection, realm: Realm, players: list[UUID], base: int,
                       at: datetime) -> dict[UUID, tuple[int, int]]:
    """The standing ``(level, xp)`` of each player, row-locked (created at ``base``)."""
    rows = wire.mapped(await wire.send(conn, _LOCK_PLAYERS, {
        **realm.params, "base": base, "at": at, "players": sorted(set(players), key=str)}))
    return {r["player_id"]: (int(r["level"]), int(r["xp"])) for r in rows}


# A wager's row here is written before the wager's own row, which the spine writes
# last: a violation is a concurrent first use of the wager (``events.repository``).
retry_on_conflict("vip_wagers_pkey")


async def record_wagers(conn: AsyncConnection, realm: Realm, rows: list[tuple[Any, ...]],
                        at: datetime) -> None:
    """Each wager's XP and counted money; and the same added to the day rows."""
    if not rows:
        return
    arrays = {"ids": [r[0] for r in rows], "players": [r[1] for r in rows],
              "days": [r[2] for r in rows], "xp": [r[3] for r in rows],
              "wagered": [r[4] for r in rows], "won": [r[5] for r in rows]}
    unnest = ("unnest(CAST(:ids AS text[]), CAST(:players AS uuid[]), CAST(:days AS date[]), "
              "CAST(:xp AS bigint[]), CAST(:wagered AS bigint[]), CAST(:won AS bigint[])) "
              "AS w (id, player_id, day, xp, wagered, won)")
    # nothing in the request reads them back: sent with the write's last statement
    await wire.defer(conn, (
        "INSERT INTO vip_wagers (tenant_id, mode, source_wager_id, player_id, day, xp, "
        f"real_wagered, real_won, created_at) SELECT :tenant_id, :mode, w.*, :at FROM {unnest}",
        {**realm.params, **arrays, "at": at}), (
        "UPDATE vip_days d SET xp = d.xp + t.xp, real_wagered = d.real_wagered + t.wagered, "
        "real_won = d.real_won + t.won FROM (SELECT player_id, day, sum(xp) AS xp, "
        f"sum(wagered) AS wagered, sum(won) AS won FROM {unnest} GROUP BY 1, 2) t "
        "WHERE d.tenant_id = :tenant_id AND d.mode = :mode AND d.player_id = t.player_id "
        "AND d.day = t.day", {**realm.params, **arrays}))


async def add_standing(conn: AsyncConnection, realm: Realm,
                       changes: dict[UUID, tuple[int, int | None, bool]], at: datetime) -> None:
    """Add XP and set levels: ``{player: (xp added, level or None to keep it, changed)}``."""
    if not changes:
        return
    ids = sorted(changes, key=str)
    await wire.defer(conn, (
        "UPDATE vip_players vp SET xp = vp.xp + c.xp, level = coalesce(c.level, vp.level), "
        "level_changed_at = "
        "CASE WHEN c.changed THEN CAST(:at AS timestamptz) ELSE vp.level_changed_at END "
        "FROM unnest(CAST(:players AS uuid[]), CAST(:xp AS bigint[]), "
        "CAST(:levels AS integer[]), CAST(:changed AS boolean[])) AS c (player_id, xp, level, "
        "changed) WHERE vp.tenant_id = :tenant_id AND vp.mode = :mode "
        "AND vp.player_id = c.player_id",
        {**realm.params, "at": at, "players": ids, "xp": [changes[i][0] for i in ids],
         "levels": [changes[i][1] for i in ids], "changed": [changes[i][2] for i in ids]}))


# A rollback: the wagers' counted XP and money, marked taken back (once), with the cached
# XP of their players.
_TAKE_BACK = (
    "WITH c AS (UPDATE vip_wagers SET rolled_back_at = :at WHERE tenant_id = :tenant_id "
    " AND mode = :mode AND source_wager_id = ANY (CAST(:ids AS text[])) "
    " AND rolled_back_at IS NULL RETURNING source_wager_id, player_id, day, xp, real_wagered, "
    " real_won) "
    "SELECT c.*, coalesce(vp.xp, 0) AS balance FROM c LEFT JOIN vip_players vp "
    "ON vp.tenant_id = :tenant_id AND vp.mode = :mode AND vp.player_id = c.player_id"
)


async def take_back(conn: AsyncConnection, realm: Realm, wager_ids: list[str],
                    at: datetime) -> list[dict[str, Any]]:
    return wire.mapped(await wire.send(conn, _TAKE_BACK, {**realm.params, "ids": wager_ids,
                                                      "at": at}))


async def subtract_days(conn: AsyncConnection, realm: Realm, rows: list[dict[str, Any]]) -> None:
    await wire.defer(conn, (
        "UPDATE vip_days d SET xp = greatest(d.xp - t.xp, 0), "
        "real_wagered = d.real_wagered - t.wagered, real_won = d.real_won - t.won "
        "FROM (SELECT player_id, day, sum(xp) AS xp, sum(wagered) AS wagered, sum(won) AS won "
        "FROM unnest(CAST(:players AS uuid[]), CAST(:days AS date[]), CAST(:xp AS bigint[]), "
        "CAST(:wagered AS bigint[]), CAST(:won AS bigint[])) AS w (player_id, day, xp, wagered, "
        "won) GROUP BY 1, 2) t WHERE d.tenant_id = :tenant_id AND d.mode = :mode "
        "AND d.player_id = t.player_id AND d.day = t.day",
        {**realm.params, "players": [r["player_id"] for r in rows],
         "days": [r["day"] for r in rows], "xp": [int(r["xp"]) for r in rows],
         "wagered": [int(r["real_wagered"]) for r in rows],
         "won": [int(r["real_won"]) for r in rows]}))


_TRACK_XP = (
    "INSERT INTO vip_players AS vp (tenant_id, mode, player_id, level, xp, level_changed_at) "
    "VALUES (:tenant_id, :mode, :player, coalesce((SELECT (c.levels -> 0 ->> 'level')::integer "
    "FROM vip_configs c WHERE c.tenant_id = :tenant_id AND c.mode = :mode), 0), :xp, :at) "
    "ON CONFLICT (tenant_id, mode, player_id) DO UPDATE SET xp = vp.xp + excluded.xp"
)
_TAKE_XP = (
    "UPDATE vip_players SET xp = xp + :xp WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND player_id = :player"
)


async def track_xp(conn: AsyncConnection, realm: Realm, player_id: UUID, xp: int,
                   at: datetime) -> None:
    """Keep the cached XP in step with a posting outside the spine (a prize, an
    adjustment); a debit only ever follows credits, so its row exists."""
    params = {**realm.params, "player": player_id, "xp": xp}
    await wire.defer(conn, (_TRACK_XP, {**params, "at": at}) if xp > 0 else (_TAKE_XP, params))


_STANDINGS = (
    "SELECT p.id AS player_id, p.brand_id, p.currency, vp.level, coalesce(vp.xp, 0) AS xp, "
    f"{ALLOWED} AS allowed, c.xp_per_unit, c.xp_daily_cap, c.timezone, c.levels "
    "FROM players p LEFT JOIN vip_players vp ON vp.tenant_id = p.tenant_id "
    "AND vp.mode = p.mode AND vp.player_id = p.id LEFT JOIN vip_configs c "
    "ON c.tenant_id = p.tenant_id AND c.mode = p.mode WHERE p.tenant_id = :tenant_id "
    "AND p.mode = :mode AND p.id = ANY (CAST(:ids AS uuid[]))"
)


async def standings(conn: AsyncConnection, realm: Realm,
                    player_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """Each player's stored level (None before any XP), cached XP, whether their brand
    allows VIP, and the realm's programme (``levels`` None without one): one query."""
    rows = await conn.execute(text(_STANDINGS), {**realm.params, **ALLOWED_PARAMS,
                                                 "ids": player_ids})
    return {r.player_id: dict(r._mapping) for r in rows}


async def days_total(conn: AsyncConnection, realm: Realm, player_id: UUID, since: date,
                     until: date) -> dict[str, int]:
    """XP earned and real net loss over local days ``[since, until)``."""
    row = (await conn.execute(
        text("SELECT coalesce(sum(xp), 0) AS xp, "
             "coalesce(sum(real_wagered - real_won), 0) AS net_loss FROM vip_days "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :player "
             "AND day >= :since AND day < :until"),
        {**realm.params, "player": player_id, "since": since, "until": until})).one()
    return {"xp": int(row.xp), "net_loss": int(row.net_loss)}


async def players_per_level(conn: AsyncConnection, realm: Realm) -> dict[int, int]:
    """How many players stand on each level of the ladder."""
    rows = await conn.execute(
        text("SELECT level, count(*) AS n FROM vip_players WHERE tenant_id = :tenant_id "
             "AND mode = :mode GROUP BY level"), realm.params)
    return {int(r.level): int(r.n) for r in rows}
