"""Who may do what in the console: one table from permission to the roles holding it.

Every console route names one permission with ``@permission("...")`` (a route without
one cannot be built: ``views.ConsoleRoute`` refuses it), and the route class checks it
before the page runs. ``platform`` is the platform admin (signed in with the admin
token), who keeps the platform's own administration; the other holders are operator
roles, who see their own tenant only. A permission marked ``every_brand`` concerns the
whole tenant (its keys, webhooks, operators), so an operator limited to some brands
does not hold it. ``docs/console.md`` prints this table; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from wowsino.operators.service import ROLES

PLATFORM = "platform"
HOLDERS = (PLATFORM, *ROLES)
ALL_ROLES = frozenset(ROLES)

# Routes outside the table: they decide for themselves who may use them.
PUBLIC = "public"  # no session: sign-in, accepting an invitation
SECOND_FACTOR = "second_factor"  # a sign-in that has the password and waits for its code
SIGNED_IN = "signed_in"  # any session: signing out, the console's home


@dataclass(frozen=True, slots=True)
class Permission:
    name: str
    description: str
    holders: frozenset[str]
    every_brand: bool = False


def _p(name: str, description: str, *holders: str, every_brand: bool = False) -> Permission:
    unknown = set(holders) - set(HOLDERS)
    assert not unknown, f"unknown holders {unknown}"
    return Permission(name, description, frozenset(holders), every_brand)


_OWNER_ADMIN = ("owner", "admin")
TABLE: tuple[Permission, ...] = (
    _p("tenants.view", "List the platform's tenants", PLATFORM),
    _p("tenants.create", "Create a tenant (and its first keys)", PLATFORM),
    _p("tenants.suspend", "Suspend or reactivate a tenant", PLATFORM),
    _p("tenants.invite_owner", "Invite a tenant's owner", PLATFORM),
    _p("tenant.view", "See the tenant page", PLATFORM, *ROLES),
    _p("brands.manage", "Add a brand", *_OWNER_ADMIN, every_brand=True),
    _p("keys.manage", "See, create and revoke API keys", *_OWNER_ADMIN, every_brand=True),
    _p("dashboard.view", "See a realm's dashboard (figures of every brand)", *ROLES,
       every_brand=True),
    _p("players.view", "Search players and read a player's dossier", *ROLES),
    _p("players.manage", "Change a player's status, with a reason",
       "owner", "admin", "compliance", "support"),
    _p("players.adjust", "Adjust a player's balance by hand, with a reason (above the "
       "tenant's threshold a second operator approves)", "owner", "admin", "support"),
    _p("adjustments.approve", "Approve or reject another operator's adjustment above the "
       "threshold", "owner", "admin", "compliance"),
    _p("audit.view", "Read the audit log", "owner", "admin", "compliance", "analyst"),
    _p("webhooks.view", "See webhook subscriptions and their deliveries",
       "owner", "admin", "support", "analyst", every_brand=True),
    _p("webhooks.redeliver", "Redeliver a webhook delivery", "owner", "admin", "support",
       every_brand=True),
    _p("engines.view", "See the engines: prize tables and their odds, jackpots, raffles, "
       "tournaments, bonus templates with the linter and the simulator, journeys, VIP, CRM",
       *ROLES),
    _p("engines.manage", "Save a prize table, draw a raffle, close a tournament, dry-run a "
       "campaign", "owner", "admin", "marketing"),
    _p("queues.view", "See the white-label work queues: withdrawals, KYC, RG alerts",
       "owner", "admin", "compliance", "support", every_brand=True),
    _p("withdrawals.decide", "Approve or reject a withdrawal", "owner", "admin", "compliance",
       every_brand=True),
    _p("operators.view", "See the tenant's operators", *_OWNER_ADMIN, every_brand=True),
    _p("operators.manage", "Invite operators, change their role and brands, disable them",
       *_OWNER_ADMIN, every_brand=True),
    _p("console_policy.manage", "Require two-factor sign-in for every operator", "owner",
       every_brand=True),
    _p("account", "Own account: password, two-factor sign-in, sessions", *ROLES),
)
PERMISSIONS: dict[str, Permission] = {p.name: p for p in TABLE}
SPECIAL: dict[str, Permission] = {
    name: Permission(name, description, frozenset())
    for name, description in ((PUBLIC, "anyone"), (SECOND_FACTOR, "a sign-in awaiting its code"),
                              (SIGNED_IN, "any session"))
}

F = TypeVar("F", bound=Callable[..., Any])


def permission(name: str) -> Callable[[F], F]:
    """Mark a console route with the permission it needs (checked by ``ConsoleRoute``).
    Put it below the ``@router.get``/``post`` line so it applies first."""
    chosen = PERMISSIONS.get(name) or SPECIAL[name]

    def mark(endpoint: F) -> F:
        endpoint.console_permission = chosen  # type: ignore[attr-defined]
        return endpoint

    return mark


def route_permission(endpoint: Any) -> Permission | None:
    found: Permission | None = getattr(endpoint, "console_permission", None)
    return found


def holds(holder: str, name: str, *, brand_scoped: bool = False) -> bool:
    """Whether ``holder`` (``platform`` or a role) holds the permission ``name``."""
    chosen = PERMISSIONS[name]
    return holder in chosen.holders and not (brand_scoped and chosen.every_brand)


def markdown_table() -> str:
    """The permission table as ``docs/console.md`` shows it."""
    header = "| permission | what it allows | " + " | ".join(HOLDERS) + " |"
    lines = [header, "|---|---|" + "---|" * len(HOLDERS)]
    for p in TABLE:
        marks = " | ".join("✓" if h in p.holders else "" for h in HOLDERS)
        scope = " (every brand)" if p.every_brand else ""
        lines.append(f"| `{p.name}` | {p.description}{scope} | {marks} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
