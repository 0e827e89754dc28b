"""Links to the public verifier page (``/fairness/verify``) carrying a draw's published
fields in the query string, so the page recomputes the draw in the reader's browser.

The link is relative to the platform's address (the API and the page are served by the
same process), so a stored response replays the same link whatever host it was asked on.
Field names match docs/fairness.md and the page's form: ``server_seed``,
``server_seed_hash``, ``client_seed``, then ``weights`` (and, when short enough to
travel in a link, ``prize_table`` with ``prize_table_hash``), ``tickets`` (and
``skipped``) or ``range_from`` and ``range_to`` (a mystery jackpot's round), and the
published result ``index``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from wowsino.kernel import fairness

VERIFY_PATH = "/fairness/verify"
# A prize table travels in the link only while the link stays comfortably short; the
# weights alone always do (100 segments at most), and the table's hash is still shown.
MAX_TABLE_IN_LINK = 1500


def weighted_url(*, server_seed: str, server_seed_hash: str, client_seed: str,
                 table: Sequence[dict[str, Any]], index: int,
                 prize_table_hash: str | None = None) -> str:
    """The verifier link of a lootbox open or a mini-game play (``table``: canonical,
    amounts as decimal strings, in stored order)."""
    fields: dict[str, str] = {
        "game": "weighted", "server_seed": server_seed, "server_seed_hash": server_seed_hash,
        "client_seed": client_seed,
        "weights": ",".join(str(int(s["weight"])) for s in table), "index": str(index),
    }
    canonical = fairness.canonical_json([
        {"segment_label": s["segment_label"], "weight": int(s["weight"]), "asset": s["asset"],
         "amount": str(s["amount"])} for s in table]).decode()
    if len(canonical) <= MAX_TABLE_IN_LINK:
        fields["prize_table"] = canonical
    if prize_table_hash is not None:
        fields["prize_table_hash"] = prize_table_hash
    return f"{VERIFY_PATH}?{urlencode(fields)}"


def raffle_url(*, server_seed: str, server_seed_hash: str, client_seed: str, tickets: int,
               index: int, skipped: Sequence[int] = ()) -> str:
    """The verifier link of a raffle draw: the winning ticket among ``tickets``, after the
    ``skipped`` tickets of holders who could not win."""
    fields = {"game": "raffle", "server_seed": server_seed,
              "server_seed_hash": server_seed_hash, "client_seed": client_seed,
              "tickets": str(tickets), "index": str(index)}
    if skipped:
        fields["skipped"] = ",".join(str(int(i)) for i in skipped)
    return f"{VERIFY_PATH}?{urlencode(fields)}"


def mystery_url(*, server_seed: str, server_seed_hash: str, client_seed: str, low: int,
                high: int, point: int) -> str:
    """The verifier link of a mystery jackpot's drop point, in minor units: ``point =
    low + 1 + uniform_int(high − low)`` (the round's seed and must-drop amount)."""
    fields = {"game": "mystery", "server_seed": server_seed,
              "server_seed_hash": server_seed_hash, "client_seed": client_seed,
              "range_from": str(low), "range_to": str(high), "index": str(point)}
    return f"{VERIFY_PATH}?{urlencode(fields)}"
