"""The catalogue of event types: every type a webhook can carry, with its ``data`` fields.

This registry is the single source: ``outbox.emit`` refuses a type that is not in it
(or is only reserved), webhook subscriptions accept its types and namespaces, and
``docs/events.md`` is generated from it::

    python -m wowsino.kernel.events > docs/events.md

A test checks that the document matches, that every type the code emits is registered,
and that the events real flows write carry exactly the registered fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array"})


@dataclass(frozen=True)
class Field:
    """One key of an event's ``data``; ``type`` is a JSON type, ``"<type>|null"`` when nullable."""

    name: str
    type: str
    description: str

    def __post_init__(self) -> None:
        kinds = self.type.split("|")
        if not set(kinds) <= JSON_TYPES | {"null"} or kinds[0] == "null":
            raise ValueError(f"field {self.name}: unknown JSON type {self.type!r}")


@dataclass(frozen=True)
class EventType:
    """An event type. A ``reserved`` type is in the public catalogue (subscriptions may name
    it) but no feature emits it yet; it gets its fields when the feature ships."""

    name: str
    description: str
    fields: tuple[Field, ...] = ()
    reserved: bool = False

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)


class UnregisteredEvent(LookupError):
    """An event type that is not in the catalogue, or is only reserved: a programming error."""


_USER = Field("user", "object", "The player: `{user_id, username}`.")


def _time(name: str, what: str) -> Field:
    return Field(name, "string", f"When {what} (ISO-8601 UTC).")


_TYPES = (
    EventType(
        "player.status_changed",
        "A player's status changed (`PATCH /v1/players/<key>/status`, a self-exclusion "
        "or its end). Not sent when the status asked for is the one the player already "
        "has.",
        (_USER,
         Field("from", "string", "The previous status."),
         Field("to", "string", "The new status."),
         Field("reason", "string", "The reason given with the change."))),
    EventType(
        "player.self_excluded",
        "A white-label player excluded themselves (`POST /v1/player/self-exclude`): from "
        "now on no login, play or engagement until `until`, and every session and active "
        "bonus ended. `player.status_changed` is sent with it.",
        (_USER,
         Field("period", "string", "`6m`, `1y`, `5y` or `permanent`."),
         Field("until", "string|null",
               "When the exclusion ends (ISO-8601 UTC); `null` when permanent."))),
    EventType(
        "player.self_exclusion_ended",
        "A player's timed self-exclusion reached its end and the worker lifted it: the "
        "status returns to the one before it (`player.status_changed` is sent with it, "
        "unless the operator closed the account meanwhile). A permanent one never ends.",
        (_USER,
         Field("period", "string", "`6m`, `1y` or `5y`."),
         _time("until", "the exclusion ended"))),
    EventType(
        "rg.limit_changed",
        "A player's responsible-gaming limits changed: at once when tightened, or when a "
        "loosening's 24-hour cooling-off has passed and the worker applies it.",
        (_USER,
         Field("changes", "array",
               "One `{limit, from, to, applies_at, immediate}` per limit; money limits in "
               "the player's currency, `null` for no limit."))),
    EventType(
        "lootbox.opened",
        "A lootbox was opened for a player (`POST /v1/lootbox/<id>/open`).",
        (Field("lootbox_id", "string", "The lootbox."),
         Field("lootbox_name", "string", "Its name at the time of the open."),
         _USER,
         Field("open_id", "string", "The open; `GET /v1/lootbox/<id>/opens` shows it in full."),
         Field("reward", "object", "`{asset, amount, segment_label}`: the prize credited."),
         Field("server_seed_hash", "string", "The commitment the draw used."),
         _time("opened_at", "the box was opened"))),
    EventType(
        "mini_game.played",
        "A mini-game was played for a player (`POST /v1/mini-games/<id>/play`).",
        (Field("mini_game_id", "string", "The mini-game."),
         Field("mini_game_name", "string", "Its name at the time of the play."),
         _USER,
         Field("play_id", "string", "The play; `GET /v1/mini-games/<id>/plays` shows it in full."),
         Field("outcome", "object",
               "`{segment_label, segment_index, reward: {asset, amount}}`."),
         Field("server_seed_hash", "string", "The commitment the draw used."),
         _time("played_at", "the game was played"))),
    EventType(
        "raffle.drawn",
        "A raffle was drawn, by hand or at its `draw_at`, and its prize credited. Carries "
        "every input needed to recompute the draw.",
        (Field("raffle_id", "string", "The raffle."),
         Field("raffle_name", "string", "Its name at the time of the draw."),
         Field("draw_id", "string", "The draw."),
         Field("winner", "object", "The winning player: `{user_id, username}`."),
         Field("prize_winz", "integer", "The WINZ credited to the winner."),
         Field("winning_ticket_idx", "integer", "The winning ticket."),
         Field("skipped_ticket_idxs", "array",
               "Tickets drawn first whose holders could not win (not `active`)."),
         Field("total_tickets", "integer", "Tickets sold."),
         Field("server_seed", "string", "The raffle's seed, revealed."),
         Field("server_seed_hash", "string", "Its commitment, published at creation."),
         Field("client_seed", "string", "SHA-256 of the final ticket list."),
         _time("drawn_at", "the raffle was drawn"))),
    EventType(
        "jackpot.dropped",
        "A jackpot paid its pool to a player (by hand, at `must_drop_at`, or at a mystery "
        "pool's drop point). For a plug-in operator this is the instruction to pay the winner.",
        (Field("jackpot_id", "string", "The jackpot."),
         Field("jackpot_name", "string", "Its name at the time of the drop."),
         Field("drop_id", "string", "The drop."),
         Field("round", "integer", "The round that ended."),
         Field("winner_username", "string", "The winner's username."),
         Field("winner", "object", "The winner: `{user_id, username}`."),
         Field("currency", "string", "The pool's currency."),
         Field("amount", "number", "What the winner won, in the pool's currency."),
         Field("pool_before", "number", "The pool before the drop."),
         Field("pool_after", "number", "The pool after it: the next round's seed."),
         Field("trigger_reason", "string", "`manual`, `must_drop` or `mystery`."),
         Field("contribution_id", "string|null",
               "The contribution that reached the trigger, when its player won."),
         Field("mystery", "object|null",
               "For a mystery pool, the ended round revealed: `{server_seed, server_seed_hash, "
               "client_seed, seed, must_drop_at, drop_point}`."),
         Field("next_mystery_seed_hash", "string|null",
               "For a mystery pool, the commitment of the next round's drop point."),
         _time("dropped_at", "the pool dropped"))),
    EventType(
        "webhook.ping",
        "A test delivery to one subscription (`POST /v1/webhooks/<id>/ping`); it is not an "
        "outbox event and reaches no other subscription.",
        (Field("ping", "boolean", "Always `true`."),)),
    EventType(
        "tournament.closed",
        "A tournament closed (`POST /v1/tournaments/<id>/close`, or the worker at its "
        "`ends_at`) and its prize table was paid. For a plug-in operator a currency prize "
        "(`paid_by: operator`) is the instruction to pay the player in its own wallet.",
        (Field("tournament_id", "string", "The tournament."),
         Field("tournament_name", "string", "Its name at the time of the close."),
         Field("payouts", "array",
               "One `{rank, user, score, prize, status, reason?, entry_id?, paid_by?, "
               "bonus_id?}` per prized rank, in rank order: `prize` is `{asset, amount}` or "
               "`{bonus_template}`, `status` `paid` or `skipped` (`reason`: "
               "`player_blocked`, `currency_mismatch` or the bonus engine's refusal code)."),
         Field("total_paid", "object",
               "What was paid per asset, `{asset: amount}` (bonus prizes are not counted)."),
         Field("trigger", "string", "`manual` or `scheduled` (the worker at `ends_at`)."),
         Field("next_instance_id", "string|null",
               "For a recurring tournament, the next instance the close created."),
         _time("closed_at", "the tournament closed"))),
    EventType(
        "journey.completed",
        "A player completed the last step of a journey; its reward was granted (or withheld "
        "from a player held by responsible-gambling rules, `reward_winz_granted: 0`).",
        (Field("journey_id", "string", "The journey."),
         Field("journey_name", "string", "Its name at the time of completion."),
         _USER,
         Field("run", "integer", "Which run of the journey this was (1 unless repeatable)."),
         Field("reward_winz_granted", "integer", "The WINZ credited."),
         Field("reward", "object",
               "What was given: `{winz, bonus, lootbox_open}`, or `{skipped: rg, reason}`"
               ", or the refusal of a player who could not receive it."),
         _time("completed_at", "the last step was done"))),
    EventType(
        "bonus.granted",
        "A bonus was granted to a player (`POST /v1/bonuses/grant`, a deposit's promo code or "
        "auto-grant, a referral, a free-spins settlement's template).",
        (Field("bonus_id", "string", "The bonus; `GET /v1/players/<key>/bonuses` shows it."),
         Field("template_name", "string", "Its template's name at the time of the grant."),
         Field("type", "string", "The bonus type (`no_deposit`, `deposit_match`, …)."),
         Field("amount", "number", "The bonus money granted, in `currency` (0 for tickets "
               "and pending free spins)."),
         Field("currency", "string", "The bonus's currency."),
         _USER)),
    EventType(
        "bonus.converted",
        "A bonus met its wagering and became real money, in one ledger entry. For a plug-in "
        "operator (`paid_by: operator`) this is the instruction to credit `real_credited` in "
        "its own wallet.",
        (Field("bonus_id", "string", "The bonus."),
         _USER,
         Field("type", "string", "The bonus type."),
         Field("currency", "string", "The bonus's currency."),
         Field("real_credited", "number", "Real money credited (capped at `max_conversion`)."),
         Field("bonus_balance", "number", "The bonus balance that was converted."),
         Field("paid_by", "string", "`operator` (plug-in) or `wallet` (white-label)."))),
    EventType(
        "bonus.forfeited",
        "A bonus was forfeited: by the operator, or by a bet above its `max_bet` "
        "(`reason: max_bet`). What was left returns to the bonus liability.",
        (Field("bonus_id", "string", "The bonus."),
         _USER,
         Field("type", "string", "The bonus type."),
         Field("reason", "string", "Why it was forfeited."),
         Field("currency", "string", "The bonus's currency."),
         Field("amount_removed", "number", "The bonus money removed."))),
    EventType(
        "bonus.expired",
        "A bonus reached its `expires_at` before its wagering was met; the worker removed "
        "what was left.",
        (Field("bonus_id", "string", "The bonus."),
         _USER,
         Field("type", "string", "The bonus type."),
         Field("reason", "string", "Always `expired`."),
         Field("currency", "string", "The bonus's currency."),
         Field("amount_removed", "number", "The bonus money removed."))),
    EventType(
        "kyc.decision",
        "A KYC decision changed the player's `kyc_status` and `kyc_level`, which the "
        "withdrawal gate reads: an operator's (`PATCH /v1/players/<key>/kyc`, `source: "
        "manual`) or a KYC vendor's signed webhook (`source`: the adapter, e.g. `sandbox`, "
        "`sumsub`). A vendor's repeat or a decision older than the one in force is kept but "
        "emits nothing (docs/kyc.md).",
        (Field("document_id", "string", "The decision's id."),
         _USER,
         Field("decision", "string", "`approved`, `rejected`, `pending` or `none`."),
         Field("level", "integer", "The KYC level now in force (0-3)."),
         Field("reason", "string", "The reason given (a vendor's rejection labels)."),
         Field("source", "string", "Who decided: `manual`, or the vendor's adapter."),
         Field("rejection", "string|null",
               "A vendor's rejection: `retry` (the player may verify again) or `final`; "
               "null otherwise."),
         Field("kyc_session_id", "string|null",
               "The verification session a vendor's decision is about; null for a manual "
               "one."))),
    EventType(
        "vip.level_changed",
        "A player's VIP level changed: up by XP from real-money wagers, or up or down when the "
        "ladder was edited (`PUT /v1/vip`).",
        (_USER,
         Field("from", "integer", "The previous level (0: none yet)."),
         Field("to", "integer", "The new level."))),
    EventType(
        "vip.cashback_granted",
        "A VIP cashback was paid for a period that ended. With `operator_pays: true` (real "
        "cashback of a plug-in operator) this is the instruction to credit `amount` in the "
        "operator's own wallet.",
        (_USER,
         Field("period_start", "string", "The period's first local day (YYYY-MM-DD)."),
         Field("period_end", "string", "The local day after its last (YYYY-MM-DD)."),
         Field("currency", "string", "The player's currency."),
         Field("net_loss", "number", "Real money wagered minus won over the period."),
         Field("level", "integer", "The player's level when it was paid."),
         Field("cashback_pct", "number", "That level's percentage."),
         Field("amount", "number", "The cashback."),
         Field("granted_as", "string", "`bonus` or `real`."),
         Field("bonus_id", "string|null", "The cashback bonus, when granted as one."),
         Field("operator_pays", "boolean",
               "Whether the operator pays it in its own wallet (plug-in, real)."))),
    EventType(
        "campaign.run_completed",
        "A CRM campaign run finished: every matching player was handled, or a budget "
        "stopped it (`POST /v1/campaigns/<id>/run` or its schedule).",
        (Field("campaign_id", "string", "The campaign."),
         Field("run_id", "string", "The run; `GET /v1/campaigns/<id>/runs` shows it."),
         Field("status", "string", "`completed`, or `budget_reached` when a budget stopped "
               "it."),
         Field("granted", "integer", "Players the action was done for."),
         Field("skipped", "object", "Players skipped, by reason (`self_excluded`, `status`, "
               "`jurisdiction`, …)."),
         Field("total_cost", "object", "`{asset: amount}`: what the run cost (empty for "
               "`notify`)."))),
    EventType(
        "crm.message",
        "A `notify` campaign's message for one player, for the operator's messaging stack.",
        (_USER,
         Field("message", "string", "The campaign's message."),
         Field("campaign_id", "string", "The campaign."))),
    EventType(
        "crm.budget_reached",
        "The tenant's monthly promotion budget for an asset is used up (`PUT /v1/crm/budget`): "
        "the run that reached it stopped and every active campaign spending the asset was "
        "paused. Sent once per month and asset.",
        (Field("asset", "string", "The asset whose budget is used up."),
         Field("month", "string", "The UTC month, `YYYY-MM`."),
         Field("limit", "number", "The monthly limit."),
         Field("spent", "number", "What campaigns spent this month."),
         Field("campaign_id", "string|null", "The campaign whose run reached it."),
         Field("paused_campaigns", "array", "The campaigns paused."))),
    EventType(
        "deposit.completed",
        "A white-label deposit was paid: the PSP's signed callback said so, and the amount "
        "was credited to the player's real balance. Sent once per deposit, also when the PSP "
        "says it twice.",
        (Field("deposit_id", "string", "The deposit."),
         _USER,
         Field("amount", "number", "The amount credited."),
         Field("currency", "string", "The player's currency."),
         Field("method", "string", "The payment method (`card`, …)."),
         Field("psp_reference", "string", "The PSP's transaction id."),
         Field("first_deposit", "boolean", "Whether it is the player's first deposit."))),
    EventType(
        "deposit.failed",
        "A white-label deposit failed: the PSP declined it (its callback, or its answer to "
        "the payment's creation). Nothing was credited.",
        (Field("deposit_id", "string", "The deposit."),
         _USER,
         Field("amount", "number", "The amount asked for."),
         Field("currency", "string", "The player's currency."),
         Field("method", "string", "The payment method."),
         Field("reason", "string", "The PSP's reason (`card_declined`, …)."))),
    EventType(
        "withdrawal.requested",
        "A withdrawal was asked for (by the player, or by an operator on their behalf): "
        "the amount left their real balance for `withdrawals_in_flight`, and their active "
        "bonuses were forfeited.",
        (Field("withdrawal_id", "string", "The withdrawal."),
         _USER,
         Field("amount", "number", "The amount reserved."),
         Field("currency", "string", "The player's currency."),
         Field("auto_approved", "boolean",
               "Whether it was approved at once, below the brand's threshold."),
         Field("forfeited_bonuses", "array",
               "One `{bonus_id, type, currency, amount_removed}` per bonus forfeited."),
         Field("requested_by", "string",
               "`player`, or `operator` when an operator paid the balance out on the "
               "player's behalf (approved at once)."))),
    EventType(
        "withdrawal.completed",
        "A withdrawal was paid out: the PSP's payout callback said so.",
        (Field("withdrawal_id", "string", "The withdrawal."),
         _USER,
         Field("amount", "number", "The amount paid."),
         Field("currency", "string", "The player's currency."),
         Field("psp_reference", "string", "The PSP's payout id."))),
    EventType(
        "withdrawal.failed",
        "An approved withdrawal's payout failed (the PSP's callback, or its refusal of the "
        "payout); the amount returned to the player's real balance.",
        (Field("withdrawal_id", "string", "The withdrawal."),
         _USER,
         Field("amount", "number", "The amount returned."),
         Field("currency", "string", "The player's currency."),
         Field("reason", "string", "The PSP's reason."))),
    EventType(
        "withdrawal.rejected",
        "An operator rejected a pending withdrawal "
        "(`POST /v1/withdrawals/<id>/reject`); the amount returned to the player's real "
        "balance.",
        (Field("withdrawal_id", "string", "The withdrawal."),
         _USER,
         Field("amount", "number", "The amount returned."),
         Field("currency", "string", "The player's currency."),
         Field("reason", "string", "The operator's reason."))),
)

CATALOGUE: dict[str, EventType] = {t.name: t for t in _TYPES}
NAMESPACES = frozenset(t.namespace for t in _TYPES)


def require(name: str) -> EventType:
    """The registered, emitted type ``name``; raises ``UnregisteredEvent`` otherwise."""
    found = CATALOGUE.get(name)
    if found is None:
        raise UnregisteredEvent(f"event type {name!r} is not in the catalogue "
                                "(wowsino.kernel.events)")
    if found.reserved:
        raise UnregisteredEvent(f"event type {name!r} is reserved: register its data fields "
                                "in wowsino.kernel.events before emitting it")
    return found


def _markdown_lines() -> Iterator[str]:
    emitted = [t for t in _TYPES if not t.reserved]
    yield "# Webhook events"
    yield ""
    yield ("<!-- Generated from src/wowsino/kernel/events.py by "
           "`python -m wowsino.kernel.events > docs/events.md`; edit the registry, not this "
           "file. -->")
    yield ""
    yield ("Every event type a [webhook](webhooks.md) can carry, with the fields of its "
           "`data`. A delivery is `{id, type, created_at, delivered_at, mode, data}`; "
           "subscribe with exact types (`jackpot.dropped`), a namespace (`lootbox.*`) or "
           "`*`. Amounts are JSON numbers in the asset's unit, times ISO-8601 UTC. The "
           "same events, `webhook.ping` aside, are published to NATS JetStream with "
           "`WOWSINO_NATS_URL` set ([the event stream]"
           "(operations.md#the-event-stream-nats-jetstream)).")
    yield ""
    yield "| type | sent when |"
    yield "|---|---|"
    for t in emitted:
        yield f"| [`{t.name}`](#{t.name.replace('.', '')}) | {t.description.split('. ')[0].rstrip('.')} |"
    for t in emitted:
        yield ""
        yield f"## `{t.name}`"
        yield ""
        yield t.description
        yield ""
        yield "| field | type | meaning |"
        yield "|---|---|---|"
        for f in t.fields:
            yield f"| `{f.name}` | {f.type.replace('|', ' or ')} | {f.description} |"
    reserved = [t for t in _TYPES if t.reserved]
    if not reserved:
        return
    yield ""
    yield "## Reserved types"
    yield ""
    yield ("Part of the catalogue, so a subscription may name them (or their namespace) "
           "today, but not sent yet: each is sent once its feature ships, and is documented "
           "here with its fields then.")
    yield ""
    yield "| type | will be sent when |"
    yield "|---|---|"
    for t in reserved:
        yield f"| `{t.name}` | {t.description} |"


def markdown() -> str:
    """``docs/events.md``: the catalogue as a document."""
    return "\n".join(_markdown_lines()) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown())
