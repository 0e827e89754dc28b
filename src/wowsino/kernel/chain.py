"""Per-realm hash chains over append-only tables (ledger entries, audit log).

Rows are written with the hash of their own content; a sealer then links them
in order, ``chain_hash = sha256(prev_chain_hash || id || content_hash)``, under
a per-realm advisory lock. Sealing after the fact keeps a chain head from
becoming a hot row that would serialise every write in a realm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import sha256
from wowsino.kernel.realm import Realm

ChainName = Literal["ledger", "audit"]
TABLES: dict[str, str] = {"ledger": "ledger_entries", "audit": "audit_log"}
GENESIS = b"\x00" * 32


def link(prev: bytes, row_id: int, content_hash: bytes) -> bytes:
    return sha256(prev + row_id.to_bytes(8, "big") + content_hash)


async def _head(conn: AsyncConnection, realm: Realm, chain: ChainName) -> tuple[int, bytes] | None:
    """The chain's last sealed sequence number and hash; None before the first seal."""
    head = (
        await conn.execute(
            text("SELECT last_seq, last_hash FROM chain_heads "
                 "WHERE tenant_id = :tenant_id AND mode = :mode AND chain = :chain"),
            {**realm.params, "chain": chain},
        )
    ).first()
    return (int(head[0]), bytes(head[1])) if head else None


async def seal(conn: AsyncConnection, realm: Realm, chain: ChainName, *, batch: int = 5000) -> int:
    """Link every unsealed row of ``realm`` into its chain; returns how many were sealed."""
    table = TABLES[chain]
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"chain:{chain}:{realm.tenant_id}:{realm.mode.value}"},
    )
    seq, prev = await _head(conn, realm, chain) or (0, GENESIS)
    rows = (
        await conn.execute(
            text(f"SELECT id, content_hash FROM {table} WHERE tenant_id = :tenant_id "
                 "AND mode = :mode AND chain_seq IS NULL ORDER BY id LIMIT :batch"),
            {**realm.params, "batch": batch},
        )
    ).all()
    if not rows:
        return 0
    ids, seqs, hashes = [], [], []
    for row_id, content_hash in rows:
        seq += 1
        prev = link(prev, int(row_id), bytes(content_hash))
        ids.append(int(row_id))
        seqs.append(seq)
        hashes.append(prev)
    await conn.execute(
        text(f"UPDATE {table} t SET chain_seq = u.seq, chain_hash = u.hash "
             "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), "
             "CAST(:hashes AS bytea[])) AS u (id, seq, hash) "
             "WHERE t.tenant_id = :tenant_id AND t.id = u.id"),
        {**realm.params, "ids": ids, "seqs": seqs, "hashes": hashes},
    )
    await conn.execute(
        text("INSERT INTO chain_heads (tenant_id, mode, chain, last_seq, last_hash) "
             "VALUES (:tenant_id, :mode, :chain, :seq, :hash) ON CONFLICT (tenant_id, mode, chain) "
             "DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash"),
        {**realm.params, "chain": chain, "seq": seq, "hash": prev},
    )
    return len(rows)


@dataclass
class ChainReport:
    checked: int = 0
    unsealed: int = 0
    problems: list[str] | None = None

    def __post_init__(self) -> None:
        self.problems = self.problems or []


async def verify_links(conn: AsyncConnection, realm: Realm, chain: ChainName) -> ChainReport:
    """Walk the sealed chain of ``realm`` in order and report every broken link."""
    table = TABLES[chain]
    report = ChainReport()
    assert report.problems is not None
    prev, expected_seq = GENESIS, 1
    result = await conn.stream(
        text(f"SELECT id, content_hash, chain_seq, chain_hash FROM {table} "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND chain_seq IS NOT NULL "
             "ORDER BY chain_seq"),
        realm.params,
    )
    async for row_id, content_hash, chain_seq, chain_hash in result:
        report.checked += 1
        if chain_seq != expected_seq:
            report.problems.append(f"{chain}: gap before seq {chain_seq} (expected {expected_seq})")
        prev = link(prev, int(row_id), bytes(content_hash))
        if bytes(chain_hash) != prev:
            report.problems.append(f"{chain}: row {row_id} breaks the chain at seq {chain_seq}")
            prev = bytes(chain_hash)
        expected_seq = int(chain_seq) + 1
    head = await _head(conn, realm, chain)
    if head is not None and head != (expected_seq - 1, prev):
        report.problems.append(f"{chain}: head does not match the last sealed row")
    if head is None and report.checked:
        report.problems.append(f"{chain}: sealed rows without a chain head")
    report.unsealed = int(
        await conn.scalar(
            text(f"SELECT count(*) FROM {table} WHERE tenant_id = :tenant_id AND mode = :mode "
                 "AND chain_seq IS NULL"),
            realm.params,
        )
        or 0
    )
    return report


async def realms_with_rows(conn: AsyncConnection, chain: ChainName) -> list[Realm]:
    from wowsino.kernel.realm import Mode

    rows = await conn.execute(
        text(f"SELECT DISTINCT tenant_id, mode FROM {TABLES[chain]} "
             "UNION SELECT tenant_id, mode FROM chain_heads WHERE chain = :chain"),
        {"chain": chain},
    )
    return [Realm(r[0], Mode(r[1])) for r in rows]
