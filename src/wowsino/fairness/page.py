"""``/fairness/verify``: the public verifier page. No sign-in, no server call to verify.

The page is rendered here with the fields of a draw taken from the query string (a
``verify_url`` of a draw response, docs/fairness.md); the reader's browser recomputes the
draw with Web Crypto (``static/verify.js``, our own code, no third-party script) and shows
each step of docs/fairness.md and a verdict. The server only echoes what the link holds:
it reads no database and knows nothing about the draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from wowsino.fairness.links import VERIFY_PATH
from wowsino.fairness.service import MAX_CLIENT_SEED

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
STATIC_PATH = "/fairness/static"

# The fields the page takes, with the longest value it accepts from a link. A longer one
# is left out (and named on the page): the link was cut or is not one of ours.
FIELDS: dict[str, int] = {
    "game": 16, "server_seed": 64, "server_seed_hash": 64,
    "client_seed": MAX_CLIENT_SEED * 4, "weights": 1200, "index": 20,
    "prize_table": 20_000, "prize_table_hash": 64, "tickets": 12, "skipped": 4000,
    "range_from": 20, "range_to": 20,
}
GAMES = ("weighted", "raffle", "mystery")

# The published test vectors of docs/fairness.md, one link each.
VECTOR_SEED = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
VECTOR_HASH = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"


def _vector(label: str, **fields: str) -> tuple[str, str]:
    query = {"server_seed": VECTOR_SEED, "server_seed_hash": VECTOR_HASH, **fields}
    return label, f"{VERIFY_PATH}?{urlencode(query)}"


EXAMPLES = [
    _vector("Weighted pick: weights 50,30,15,5, client seed player-seed → index 0",
            game="weighted", client_seed="player-seed", weights="50,30,15,5", index="0"),
    _vector("Weighted pick: eight equal weights, client seed round-7 → index 2",
            game="weighted", client_seed="round-7", weights="1,1,1,1,1,1,1,1", index="2"),
    _vector("Weighted pick: weights 0,10,0,90, client seed zz → index 1",
            game="weighted", client_seed="zz", weights="0,10,0,90", index="1"),
    _vector("Uniform: 1000 tickets, client seed abc → ticket 419",
            game="raffle", client_seed="abc", tickets="1000", index="419"),
    _vector("Uniform: 3221225472 tickets, client seed r0 → 2768970314 (first draw rejected)",
            game="raffle", client_seed="r0", tickets="3221225472", index="2768970314"),
]

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # the fields (a server seed is public once revealed) never leave in a Referer
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get(VERIFY_PATH, response_class=HTMLResponse)
async def verify_page(request: Request) -> HTMLResponse:
    values: dict[str, str] = {}
    ignored: list[str] = []
    for name, longest in FIELDS.items():
        raw = request.query_params.get(name)
        if raw is None:
            continue
        if len(raw) > longest:
            ignored.append(name)
            continue
        values[name] = raw
    if values.get("game") not in GAMES:
        values["game"] = "raffle" if "tickets" in values and "weights" not in values \
            else "weighted"
    context: dict[str, Any] = {"values": values, "ignored": ignored, "examples": EXAMPLES,
                               "prefilled": any(n in values for n in ("server_seed",
                                                                      "client_seed"))}
    response = templates.TemplateResponse(request, "verify.html", context)
    response.headers.update(SECURITY_HEADERS)
    return response


def install_verifier(app: FastAPI) -> None:
    """Serve the page and its own script and stylesheet (package data)."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="fairness-static")
