"""Routes of the jackpots engine."""

from __future__ import annotations

from fastapi import APIRouter

from wowsino.kernel.jsonio import DecimalRoute

router = APIRouter(route_class=DecimalRoute)
