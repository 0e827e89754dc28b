"""Game queries: every one takes the realm."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import canonical
from wowsino.kernel.realm import Realm

_CLAIM = text(
    "INSERT INTO game_transactions (tenant_id, mode, adapter, transaction_id, kind, player_id, "
    "session_id, round_id, game_id, currency, amount, reference_transaction_id, status, "
    "fingerprint, created_at) VALUES (:tenant_id, :mode, :adapter, :transaction_id, :kind, "
    ":player, :session, :round, :game, :currency, :amount, :reference, 'pending', :fingerprint, "
    ":at) ON CONFLICT DO NOTHING RETURNING 1"
)


async def claim(conn: AsyncConnection, realm: Realm, *, adapter: str, transaction_id: str,
                kind: str, player_id: UUID, session_id: UUID, round_id: str | None,
                game_id: str | None, currency: str, amount: int, reference: str | None,
                fingerprint: bytes, at: datetime) -> bool:
    """Claim the transaction id for this call (False: it is taken). A concurrent call
    with the same id waits here until the first one commits or rolls back."""
    claimed = await conn.scalar(_CLAIM, {
        **realm.params, "adapter": adapter, "transaction_id": transaction_id, "kind": kind,
        "player": player_id, "session": session_id, "round": round_id, "game": game_id,
        "currency": currency, "amount": amount, "reference": reference,
        "fingerprint": fingerprint, "at": at})
    return claimed is not None


_COLUMNS = (
    "transaction_id, kind, player_id, session_id, round_id, game_id, currency, amount, cash, "
    "bonus, void, "
    "bonus_moves::text AS bonus_moves, status, entry_id, fingerprint, outcome::text AS outcome, "
    "created_at, settled_at, rolled_back_at"
)


def _decoded(row: Any) -> dict[str, Any]:
    from wowsino.kernel.jsonio import loads

    out = dict(row._mapping)
    out["bonus_moves"] = {UUID(k): int(v) for k, v in loads(out["bonus_moves"]).items()}
    out["outcome"] = None if out["outcome"] is None else loads(out["outcome"])
    return out


async def transaction(conn: AsyncConnection, realm: Realm, adapter: str, transaction_id: str,
                      *, for_update: bool = False) -> dict[str, Any] | None:
    row = (await conn.execute(text(
        f"SELECT {_COLUMNS} FROM game_transactions WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND adapter = :adapter AND transaction_id = :id"
        + (" FOR UPDATE" if for_update else "")),
        {**realm.params, "adapter": adapter, "id": transaction_id})).first()
    return None if row is None else _decoded(row)


async def finish(conn: AsyncConnection, realm: Realm, *, adapter: str, transaction_id: str,
                 status: str, outcome: dict[str, Any], cash: int = 0, bonus: int = 0,
                 void: int = 0, bonus_moves: dict[UUID, int] | None = None,
                 entry_id: int | None = None) -> None:
    """Record what a claimed call did and the answer its replays give."""
    await conn.execute(text(
        "UPDATE game_transactions SET status = :status, cash = :cash, bonus = :bonus, "
        "void = :void, bonus_moves = CAST(:moves AS jsonb), entry_id = :entry, "
        "outcome = CAST(:outcome AS jsonb) WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND adapter = :adapter AND transaction_id = :id"),
        {**realm.params, "adapter": adapter, "id": transaction_id, "status": status,
         "cash": cash, "bonus": bonus, "void": void, "entry": entry_id,
         "moves": canonical({str(k): v for k, v in (bonus_moves or {}).items()}).decode(),
         "outcome": canonical(outcome).decode()})


_VOID = text(
    "INSERT INTO game_transactions (tenant_id, mode, adapter, transaction_id, kind, player_id, "
    "session_id, currency, amount, status, fingerprint, outcome, created_at, rolled_back_at) "
    "VALUES (:tenant_id, :mode, :adapter, :id, 'bet', :player, :session, :currency, 0, "
    "'voided', :fingerprint, CAST(:outcome AS jsonb), :at, :at) "
    "ON CONFLICT DO NOTHING RETURNING 1"
)


async def void_unknown(conn: AsyncConnection, realm: Realm, *, adapter: str,
                       transaction_id: str, player_id: UUID, session_id: UUID, currency: str,
                       fingerprint: bytes, outcome: dict[str, Any], at: datetime) -> bool:
    """Keep the id of a bet rolled back before it arrived, as a voided bet: the bet is
    refused if it comes after all. False: a bet with that id exists (it just committed)."""
    done = await conn.scalar(_VOID, {
        **realm.params, "adapter": adapter, "id": transaction_id, "player": player_id,
        "session": session_id, "currency": currency, "fingerprint": fingerprint,
        "outcome": canonical(outcome).decode(), "at": at})
    return done is not None


async def mark_rolled_back(conn: AsyncConnection, realm: Realm, adapter: str,
                           transaction_id: str, at: datetime) -> None:
    await conn.execute(text(
        "UPDATE game_transactions SET status = 'rolled_back', rolled_back_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND adapter = :adapter "
        "AND transaction_id = :id"),
        {**realm.params, "adapter": adapter, "id": transaction_id, "at": at})


_ROUND = text(
    "INSERT INTO game_rounds AS r (tenant_id, mode, adapter, round_id, player_id, game_id, "
    "currency, created_at, updated_at) VALUES (:tenant_id, :mode, :adapter, :round, :player, "
    ":game, :currency, :at, :at) ON CONFLICT (tenant_id, mode, adapter, round_id) "
    "DO UPDATE SET updated_at = r.updated_at "
    "RETURNING player_id, currency, cash_staked, bonus_staked"
)


async def lock_round(conn: AsyncConnection, realm: Realm, *, adapter: str, round_id: str,
                     player_id: UUID, game_id: str | None, currency: str,
                     at: datetime) -> dict[str, Any]:
    """The round, created if new, locked for this call (its calls queue on it)."""
    row = (await conn.execute(_ROUND, {
        **realm.params, "adapter": adapter, "round": round_id, "player": player_id,
        "game": game_id or "", "currency": currency, "at": at})).mappings().one()
    return dict(row)


async def add_to_round(conn: AsyncConnection, realm: Realm, *, adapter: str, round_id: str,
                       at: datetime, cash_staked: int = 0, bonus_staked: int = 0,
                       cash_won: int = 0, bonus_won: int = 0, void_won: int = 0) -> None:
    await conn.execute(text(
        "UPDATE game_rounds SET cash_staked = cash_staked + :cs, "
        "bonus_staked = bonus_staked + :bs, cash_won = cash_won + :cw, "
        "bonus_won = bonus_won + :bw, void_won = void_won + :vw, updated_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND adapter = :adapter "
        "AND round_id = :round"),
        {**realm.params, "adapter": adapter, "round": round_id, "at": at, "cs": cash_staked,
         "bs": bonus_staked, "cw": cash_won, "bw": bonus_won, "vw": void_won})


async def round_bets(conn: AsyncConnection, realm: Realm, adapter: str,
                     round_id: str) -> list[dict[str, Any]]:
    """The round's standing (accepted) bets, oldest first; the round row is locked."""
    rows = await conn.execute(text(
        f"SELECT {_COLUMNS} FROM game_transactions WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND adapter = :adapter AND round_id = :round AND kind = 'bet' "
        "AND status = 'accepted' ORDER BY created_at, transaction_id"),
        {**realm.params, "adapter": adapter, "round": round_id})
    return [_decoded(r) for r in rows]


async def mark_settled(conn: AsyncConnection, realm: Realm, adapter: str,
                       transaction_ids: list[str], at: datetime) -> None:
    await conn.execute(text(
        "UPDATE game_transactions SET settled_at = :at WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND adapter = :adapter "
        "AND transaction_id = ANY (CAST(:ids AS text[]))"),
        {**realm.params, "adapter": adapter, "ids": transaction_ids, "at": at})


# with the brand's jurisdiction profile, which the compliance gate reads for a bet
_LOCK_PLAYER = text(
    "SELECT p.id, p.brand_id, p.username, p.status, p.rg, p.self_excluded_until, p.currency, "
    "p.date_of_birth, p.country_code, p.kyc_status, p.kyc_level, jp.profile AS jp_profile, "
    "jp.overrides AS jp_overrides, jp.version AS jp_version FROM players p "
    "LEFT JOIN jurisdiction_profiles jp ON jp.tenant_id = p.tenant_id AND jp.mode = p.mode "
    "AND jp.brand_id = p.brand_id "
    "WHERE p.tenant_id = :tenant_id AND p.mode = :mode AND p.id = :id FOR NO KEY UPDATE OF p"
)


async def lock_player(conn: AsyncConnection, realm: Realm, player_id: UUID) -> dict[str, Any]:
    """The player's row, locked: a player's game calls queue here (the global lock order:
    game rows, then the player row, then bonuses and balances). FOR NO KEY UPDATE: the
    call's own game rows already hold the row's key share (their foreign keys), which a
    FOR UPDATE would have to upgrade, deadlocking two calls that both hold it."""
    row = (await conn.execute(_LOCK_PLAYER, {**realm.params, "id": player_id})).mappings().one()
    return dict(row)


async def cash_balance(conn: AsyncConnection, realm: Realm, player_id: UUID,
                       currency: str) -> int:
    value = await conn.scalar(text(
        "SELECT balance FROM ledger_accounts WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND owner_type = 'player' AND owner_key = :player AND rail = 'real' "
        "AND asset = :currency"),
        {**realm.params, "player": str(player_id), "currency": currency})
    return int(value or 0)


# --- a brand's aggregators ---------------------------------------------------------------

_CONFIG_COLUMNS = "adapter, enabled, secret, launch_url, version, updated_at"


async def aggregator_configs(conn: AsyncConnection, realm: Realm,
                             brand_id: UUID) -> dict[str, dict[str, Any]]:
    """The brand's configured aggregators, by adapter name."""
    rows = await conn.execute(text(
        f"SELECT {_CONFIG_COLUMNS} FROM aggregator_configs WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND brand_id = :brand"), {**realm.params, "brand": brand_id})
    return {row.adapter: dict(row._mapping) for row in rows}


async def put_aggregator_config(conn: AsyncConnection, realm: Realm, brand_id: UUID, *,
                                adapter: str, enabled: bool, secret: str | None,
                                launch_url: str | None, at: datetime) -> None:
    await conn.execute(text(
        "INSERT INTO aggregator_configs AS c (tenant_id, mode, brand_id, adapter, enabled, "
        "secret, launch_url, updated_at) VALUES (:tenant_id, :mode, :brand, :adapter, "
        ":enabled, :secret, :launch_url, :at) ON CONFLICT (tenant_id, mode, brand_id, adapter) "
        "DO UPDATE SET enabled = excluded.enabled, secret = excluded.secret, "
        "launch_url = excluded.launch_url, version = c.version + 1, "
        "updated_at = excluded.updated_at"),
        {**realm.params, "brand": brand_id, "adapter": adapter, "enabled": enabled,
         "secret": secret, "launch_url": launch_url, "at": at})
