"""The ``wowsino`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wowsino.kernel.config import Settings, SettingsError
from wowsino.kernel.database import NoDatabase, database_url
from wowsino.kernel.logs import configure_logging

T = TypeVar("T")


class KeyMode(StrEnum):
    live = "live"
    test = "test"


app = typer.Typer(help="WOWsino: engagement and casino back office on one ledger.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
tenants_app = typer.Typer(help="Tenants and brands.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
fairness_app = typer.Typer(help="Provably fair draws.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Stand-ins for outside services (a PSP, a KYC vendor, a game "
                          "aggregator), over HTTP.",
                          no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(fairness_app, name="fairness")
app.add_typer(sandbox_app, name="sandbox")
console = Console()
err = Console(stderr=True)


@app.callback()
def _check_settings() -> None:
    # every command refuses, exit 2, a WOWSINO_* variable it cannot use, in one line
    try:
        Settings.from_env()
    except SettingsError as exc:
        err.print(f"[red]Refusing to start:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _with_engine(settings: Settings, job: Callable[[Any], Awaitable[T]], *,
                 create: bool = False) -> T:
    """Run ``job(engine)`` against the configured database (migrated first). Only
    ``create`` (``migrate``) starts a new embedded database; any other command refuses,
    exit 2, when there is none under ``WOWSINO_DATA_DIR``."""
    from wowsino.kernel.db import create_engine, migrate

    try:
        with database_url(settings, create=create) as url:
            async def run() -> T:
                engine = create_engine(url, pool_size=5)
                try:
                    await migrate(engine)
                    return await job(engine)
                finally:
                    await engine.dispose()

            return asyncio.run(run())
    except NoDatabase as exc:
        err.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from wowsino.kernel.db import head_revision

    async def noop(engine: Any) -> None:
        return None

    with console.status("Applying migrations…"):
        _with_engine(Settings.from_env(), noop, create=True)
    console.print(f"[green]Database at migration {head_revision()}[/green]")


async def _demo_keys(settings: Settings, engine: Any) -> dict[str, Any]:
    """The demo tenants' keys: ``demo`` (plug-in) with ``white_label`` (``demo-wl``, its
    games opening on the sandbox aggregator ``make run`` starts)."""
    from wowsino.operators.demo import ensure_demo_owner
    from wowsino.tenants.demo import (
        ensure_demo_games,
        ensure_demo_tenant,
        ensure_white_label_demo,
    )

    info = await ensure_demo_tenant(engine, settings.data_dir)
    white_label = await ensure_white_label_demo(engine, settings.data_dir)
    await ensure_demo_games(engine, settings)
    owner = await ensure_demo_owner(engine, settings.data_dir, info["tenant"])
    return {**info, "white_label": white_label, "owner": owner}


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default $PORT or 8000)")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Create the demo tenants (plug-in and white-label), print their keys")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run the worker")] = False,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64,
        help="API processes (1 to 64); above 1 the worker runs as one process beside "
             "them")] = 1,
) -> None:
    """Start the API (and the worker) on the configured database."""
    import os

    import uvicorn

    from wowsino.api import create_app
    from wowsino.kernel.admin import WeakAdminToken, check_admin_token_strength
    from wowsino.kernel.db import create_engine, migrate

    settings = Settings.from_env()
    configure_logging(json_logs=settings.log_json)
    try:
        check_admin_token_strength(settings)
    except WeakAdminToken as exc:
        err.print(f"[red]Refusing to start:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    generated_token = not settings.admin_token
    if generated_token:
        token = secrets.token_urlsafe(24)
        os.environ["WOWSINO_ADMIN_TOKEN"] = token
        settings = Settings.from_env()
    bind_host, bind_port = host or settings.host, port or settings.port
    with database_url(settings) as url:
        async def prepare() -> dict[str, Any] | None:
            engine = create_engine(url, pool_size=2)
            try:
                with console.status("Applying migrations…"):
                    await migrate(engine)
                return await _demo_keys(settings, engine) if demo else None
            finally:
                await engine.dispose()

        demo_info = asyncio.run(prepare())
        base = f"http://{bind_host}:{bind_port}"
        console.rule("[bold magenta]WOWsino")
        console.print(f"API          {base}/v1   (docs {base}/docs)")
        console.print(f"Console      {base}/admin")
        where = "external" if settings.database_url else f"embedded, data in {settings.data_dir}"
        console.print(f"Database     {where}")
        if workers > 1:
            console.print(f"Processes    {workers} API" + ("" if no_worker else ", 1 worker"))
        if generated_token:
            console.print(f"Admin token  {settings.admin_token}   (generated for this run; "
                          "set WOWSINO_ADMIN_TOKEN to choose one)", soft_wrap=True)
        else:
            console.print("Admin token  from WOWSINO_ADMIN_TOKEN")
        if demo_info:
            console.print(f"Demo tenant  {demo_info['tenant']} (plug_in), brand {demo_info['brand']}")
            console.print(f"Test key     [bold green]{demo_info['test_key']}[/bold green]")
            console.print(f"Try:         curl -H 'Authorization: Bearer {demo_info['test_key']}' "
                          f"{base}/v1/me", soft_wrap=True)
            if demo_info.get("owner"):
                owner = demo_info["owner"]
                console.print(f"Demo owner   {owner['email']} / [bold green]{owner['password']}"
                              "[/bold green]   (console sign-in)", soft_wrap=True)
            wl = demo_info["white_label"]
            console.print(f"White-label  {wl['tenant']} (white_label), brand {wl['brand']}")
            console.print(f"Test key     [bold green]{wl['test_key']}[/bold green]")
            console.print(f"Publishable  [bold green]{wl['publishable_key']}[/bold green]",
                          soft_wrap=True)
        sandboxes = []
        if demo:
            psp = _start_sandbox("psp", settings.sandbox_psp_url)
            if psp is not None:
                sandboxes.append(psp)
                console.print(f"Sandbox PSP  {settings.sandbox_psp_url}   (card succeeds, "
                              "card_declined fails: docs/psp.md)", soft_wrap=True)
            kyc = _start_sandbox("kyc", settings.sandbox_kyc_url)
            if kyc is not None:
                sandboxes.append(kyc)
                console.print(f"Sandbox KYC  {settings.sandbox_kyc_url}   (last name Reject: "
                              "rejected, Retry: try again, else approved: docs/kyc.md)",
                              soft_wrap=True)
            wallet = settings.public_url or f"http://{_local(bind_host)}:{bind_port}"
            games = _start_sandbox("games", settings.sandbox_games_url,
                                   "--wallet-url", wallet)
            if games is not None:
                sandboxes.append(games)
                console.print(f"Games        {settings.sandbox_games_url}   (the sandbox "
                              "aggregator: a launched game opens there; docs/games.md)",
                              soft_wrap=True)
        console.rule()
        # uvicorn re-raises the signal that stopped it: make SIGTERM unwind like Ctrl-C
        # so the embedded database is stopped on the way out
        import signal

        def _terminate(signum: int, frame: object) -> None:
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, _terminate)
        try:
            if workers > 1:
                from wowsino.processes import serve_processes

                serve_processes(url, workers=workers, host=bind_host, port=bind_port,
                                run_worker=not no_worker, data_dir=settings.data_dir,
                                log_level="warning", access_log=False)
            else:
                application = create_app(settings, database_url=url, run_worker=not no_worker)
                uvicorn.run(application, host=bind_host, port=bind_port, log_level="warning",
                            access_log=False)
        finally:
            for process in sandboxes:
                process.terminate()
            for process in sandboxes:
                process.wait(timeout=10)


def _local(host: str) -> str:
    """The address this machine reaches a server bound to ``host`` at."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104


def _start_sandbox(name: str, url: str, *args: str) -> subprocess.Popen[bytes] | None:
    """With the demo, a sandbox (``psp``, ``kyc``, ``games``) runs beside the API at ``url``
    (a local address only; a port already taken means one runs, and it is left alone)."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url)
    if where.hostname not in ("127.0.0.1", "localhost") or where.port is None:
        return None
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", where.port)) == 0:
            return None
    return subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        [sys.executable, "-m", "wowsino.cli", "sandbox", name, "--port", str(where.port),
         *args], stdout=subprocess.DEVNULL)


@app.command()
def worker() -> None:
    """Run the worker alone (deliveries and scheduled jobs); any number may run. SIGTERM
    or Ctrl-C stops it: the job at hand finishes, unsent webhook deliveries are handed
    back."""
    import signal

    from wowsino.kernel.clock import SystemClock
    from wowsino.kernel.platform import Platform
    from wowsino.processes import die_with_parent
    from wowsino.worker import Worker

    settings = Settings.from_env()
    configure_logging(json_logs=settings.log_json)

    async def job(engine: Any) -> None:
        running = Worker(Platform.build(settings, engine, SystemClock()))
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)

        def stop() -> None:  # a second signal ends the process at once
            for signum in signals:
                loop.remove_signal_handler(signum)
            running.stop()

        for signum in signals:
            loop.add_signal_handler(signum, stop)
        die_with_parent()  # a child of ``serve --workers``: stops with it
        await running.run_forever()

    with contextlib.suppress(KeyboardInterrupt):
        _with_engine(settings, job)


@tenants_app.command("create")
def tenants_create(
    slug: Annotated[str, typer.Option(help="Tenant slug")],
    service_mode: Annotated[str, typer.Option(help="plug_in or white_label")] = "plug_in",
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    brand: Annotated[str, typer.Option(help="First brand's slug")] = "main",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a tenant with a brand and one live and one test key (shown once)."""
    from wowsino.kernel.clock import SystemClock
    from wowsino.kernel.db import unit_of_work
    from wowsino.kernel.errors import DomainError
    from wowsino.kernel.jsonio import dumps
    from wowsino.kernel.realm import ADMIN
    from wowsino.tenants import service

    async def job(engine: Any) -> dict[str, Any]:
        return await unit_of_work(engine, lambda conn: service.create_tenant(
            conn, slug=slug, name=name or slug, service_mode=service_mode, brand_slug=brand,
            brand_name=brand, actor=ADMIN, at=SystemClock().now()))

    try:
        result = _with_engine(Settings.from_env(), job)
    except DomainError as exc:
        err.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(dumps(result) + "\n")
        return
    console.print(f"Tenant [bold]{slug}[/bold] ({service_mode}) id {result['tenant']['id']}")
    console.print(f"Live key  {result['keys']['live']}")
    console.print(f"Test key  {result['keys']['test']}")
    console.print("[yellow]Keys are shown once; store them now.[/yellow]")


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    from wowsino.kernel.db import read_only
    from wowsino.tenants import service

    async def job(engine: Any) -> list[dict[str, Any]]:
        async with read_only(engine) as conn:
            return await service.list_tenants(conn)

    table = Table("slug", "service mode", "status", "id")
    for t in _with_engine(Settings.from_env(), job):
        table.add_row(t["slug"], t["service_mode"], t["status"], str(t["id"]))
    console.print(table)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug or id")],
    mode: Annotated[KeyMode, typer.Option(help="live or test")] = KeyMode.test,
    brand: Annotated[str | None, typer.Option(help="Brand slug (default: the first)")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="Scope (repeatable)")] = None,
    name: Annotated[str, typer.Option(help="Key name")] = "cli key",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an API key (the plaintext is shown once)."""
    from wowsino.kernel.clock import SystemClock
    from wowsino.kernel.db import unit_of_work
    from wowsino.kernel.errors import DomainError
    from wowsino.kernel.realm import ADMIN, Mode
    from wowsino.tenants import service

    async def job(engine: Any) -> Any:
        async def create(conn: Any) -> Any:
            found = await service.get_tenant(conn, tenant)
            brands = await service.list_brands(conn, found["id"])
            return await service.create_key(
                conn, tenant_id=found["id"], brand=brand or brands[0]["slug"], mode=Mode(mode.value),
                scopes=scope or ["*"], name=name, actor=ADMIN, at=SystemClock().now())

        return await unit_of_work(engine, create)

    try:
        created = _with_engine(Settings.from_env(), job)
    except DomainError as exc:
        err.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps({"id": str(created.id), "key": created.plaintext,
                                     "mode": created.mode.value, "scopes": created.scopes}) + "\n")
    else:
        console.print(f"{created.id}  {created.plaintext}", soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(
    tenant: Annotated[str, typer.Option(help="Tenant slug or id")],
    key_id: Annotated[str, typer.Argument(help="The key's id")],
) -> None:
    """Revoke an API key; it is refused from the next request."""
    from wowsino.kernel.clock import SystemClock
    from wowsino.kernel.db import unit_of_work
    from wowsino.kernel.errors import DomainError
    from wowsino.kernel.ids import parse_uuid
    from wowsino.kernel.realm import ADMIN
    from wowsino.tenants import service

    parsed = parse_uuid(key_id)
    if parsed is None:
        err.print(f"[red]not a key id: {key_id!r} (a UUID, as `keys list` shows)[/red]")
        raise typer.Exit(2)

    async def job(engine: Any) -> Any:
        async def revoke(conn: Any) -> Any:
            found = await service.get_tenant(conn, tenant)
            return await service.revoke_key(conn, tenant_id=found["id"], key_id=parsed,
                                            actor=ADMIN, at=SystemClock().now())

        return await unit_of_work(engine, revoke)

    try:
        _with_engine(Settings.from_env(), job)
    except DomainError as exc:
        err.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Revoked {key_id}")


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Recompute every balance and entry hash and walk the hash chains; exit 1 on any mismatch."""
    from wowsino.verify import verify_ledger

    problems, summary = _with_engine(Settings.from_env(), verify_ledger)
    _report("ledger", problems, summary)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute every audit row's hash and walk the chains; exit 1 on any mismatch."""
    from wowsino.verify import verify_audit

    problems, summary = _with_engine(Settings.from_env(), verify_audit)
    _report("audit", problems, summary)


@fairness_app.command("verify")
def fairness_verify(
    server_seed: Annotated[str, typer.Option(help="The revealed server seed (64 hex)")],
    client_seed: Annotated[str, typer.Option(help="The client seed of the draw")],
    server_seed_hash: Annotated[str | None, typer.Option(help="The published commitment")] = None,
    weights: Annotated[str | None, typer.Option(help="Weights in table order: 50,30,20")] = None,
    prize_table: Annotated[Path | None, typer.Option(help="The prize table as JSON")] = None,
    prize_table_hash: Annotated[str | None, typer.Option(help="The published table hash")] = None,
    tickets: Annotated[int | None, typer.Option(help="Raffle: total tickets")] = None,
    ticket_list: Annotated[Path | None, typer.Option(
        help="Raffle: the published ticket list, its exact bytes (checks the client seed)")] = None,
    expect_holder: Annotated[str | None, typer.Option(help="Raffle: the winner's holder id")] = None,
    expect_index: Annotated[int | None, typer.Option(help="Winning index or ticket")] = None,
    expect_segment: Annotated[str | None, typer.Option(help="Winning segment label")] = None,
    skipped: Annotated[str | None, typer.Option(
        help="Raffle: the skipped tickets (blocked holders) in order: 12,40")] = None,
) -> None:
    """Recompute a lootbox, mini-game or raffle result from its published inputs; on a
    mismatch, print what was published beside what the inputs give."""
    from wowsino.fairness.verify import verify

    try:
        verdict = verify(
            server_seed=server_seed, client_seed=client_seed, server_seed_hash=server_seed_hash,
            weights=[int(w) for w in weights.split(",")] if weights else None,
            prize_table=prize_table, prize_table_hash=prize_table_hash, tickets=tickets,
            ticket_list=ticket_list, expect_holder=expect_holder,
            expect_index=expect_index, expect_segment=expect_segment,
            skipped=[int(i) for i in skipped.split(",")] if skipped else None)
    except (ValueError, KeyError, OSError) as exc:
        err.print(f"[red]cannot verify: {exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    for check in verdict.checks:
        computed, expected = escape(check.computed), escape(check.expected or "")
        if check.passed:
            line = f"[green]✓[/green] {check.name}: {computed}"
        elif check.expected is not None:
            line = f"[red]✗[/red] {check.name}: expected {expected} | computed {computed}"
        else:
            line = f"[red]✗[/red] {check.name}: {computed}"
        console.print(line, soft_wrap=True, highlight=False)  # a hash is never broken
    console.print("[green bold]match[/green bold]" if verdict.ok else "[red bold]mismatch[/red bold]")
    raise typer.Exit(0 if verdict.ok else 1)


@sandbox_app.command("psp")
def sandbox_psp(
    port: Annotated[int, typer.Option(help="Port", envvar="WOWSINO_SANDBOX_PSP_PORT")] = 8010,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    secret: Annotated[str | None, typer.Option(
        help="The shared secret (default: WOWSINO_SANDBOX_PSP_SECRET or the development one)",
        envvar="WOWSINO_SANDBOX_PSP_SECRET", show_default=False)] = None,
    delay: Annotated[float, typer.Option(
        help="Seconds before a callback", envvar="WOWSINO_SANDBOX_PSP_DELAY")] = 1.0,
    slow_delay: Annotated[float, typer.Option(
        help="Seconds before card_slow's callback",
        envvar="WOWSINO_SANDBOX_PSP_SLOW_DELAY")] = 30.0,
    failure_rate: Annotated[float, typer.Option(
        help="Share of card transactions that fail (0 to 1)",
        envvar="WOWSINO_SANDBOX_PSP_FAILURE_RATE")] = 0.0,
    retries: Annotated[int, typer.Option(help="Callback attempts after the first")] = 5,
    seed: Annotated[int | None, typer.Option(help="Seed of the failure rate")] = None,
) -> None:
    """Run the sandbox PSP: payments and payouts with signed callbacks (docs/psp.md)."""
    from wowsino.kernel.config import DEVELOPMENT_SANDBOX_PSP_SECRET
    from wowsino.sandbox.psp import Options, run

    if not 0 <= failure_rate <= 1 or delay < 0 or slow_delay < 0 or retries < 0:
        err.print("[red]--failure-rate is 0 to 1; delays and retries are not negative[/red]")
        raise typer.Exit(2)
    configure_logging(json_logs=False)
    console.print(f"Sandbox PSP on http://{host}:{port} (callback delay {delay} s, "
                  f"failure rate {failure_rate})")
    run(host=host, port=port, options=Options(
        secret=secret or DEVELOPMENT_SANDBOX_PSP_SECRET, delay=delay, slow_delay=slow_delay,
        failure_rate=failure_rate, retries=retries, seed=seed))


@sandbox_app.command("kyc")
def sandbox_kyc(
    port: Annotated[int, typer.Option(help="Port", envvar="WOWSINO_SANDBOX_KYC_PORT")] = 8030,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    secret: Annotated[str | None, typer.Option(
        help="The shared secret (default: WOWSINO_SANDBOX_KYC_SECRET or the development one)",
        envvar="WOWSINO_SANDBOX_KYC_SECRET", show_default=False)] = None,
    delay: Annotated[float, typer.Option(
        help="Seconds between a completed verification and its webhook",
        envvar="WOWSINO_SANDBOX_KYC_DELAY")] = 0.5,
    retries: Annotated[int, typer.Option(help="Webhook attempts after the first")] = 5,
) -> None:
    """Run the sandbox KYC vendor: verification pages whose outcome the applicant's last
    name decides, and signed webhooks (docs/kyc.md)."""
    from wowsino.kernel.config import DEVELOPMENT_SANDBOX_KYC_SECRET
    from wowsino.sandbox.kyc import Options, run

    if delay < 0 or retries < 0:
        err.print("[red]--delay and --retries are not negative[/red]")
        raise typer.Exit(2)
    configure_logging(json_logs=False)
    console.print(f"Sandbox KYC on http://{host}:{port} (webhook delay {delay} s)")
    run(host=host, port=port, options=Options(
        secret=secret or DEVELOPMENT_SANDBOX_KYC_SECRET, delay=delay, retries=retries))


@sandbox_app.command("games")
def sandbox_games(
    port: Annotated[int, typer.Option(help="Port", envvar="WOWSINO_SANDBOX_GAMES_PORT")] = 8020,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    wallet_url: Annotated[str, typer.Option(
        help="The platform's address, where the wallet calls go",
        envvar="WOWSINO_SANDBOX_WALLET_URL")] = "http://127.0.0.1:8000",
    secret: Annotated[str | None, typer.Option(
        help="The signing secret (default: WOWSINO_SANDBOX_AGGREGATOR_SECRET or the "
             "development one)", envvar="WOWSINO_SANDBOX_AGGREGATOR_SECRET",
        show_default=False)] = None,
) -> None:
    """Run the sandbox game aggregator: a slot simulator (RTP 96%) that plays rounds
    against the seamless wallet (docs/games.md)."""
    from wowsino.kernel.config import DEVELOPMENT_SANDBOX_AGGREGATOR_SECRET
    from wowsino.sandbox.games import Options, run

    configure_logging(json_logs=False)
    console.print(f"Sandbox games on http://{host}:{port}, playing against {wallet_url}")
    run(host=host, port=port, options=Options(
        wallet_url=wallet_url.rstrip("/"),
        secret=secret or DEVELOPMENT_SANDBOX_AGGREGATOR_SECRET))


def _report(what: str, problems: list[str], summary: str) -> None:
    if problems:
        for problem in problems:
            err.print(f"[red]✗ {problem}[/red]")
        err.print(f"[red bold]{what}: {len(problems)} problem(s); {summary}[/red bold]")
        raise typer.Exit(1)
    console.print(f"[green]✓ {what} verified: {summary}[/green]")


@app.command()
def relay(
    lag: Annotated[bool, typer.Option(
        "--lag", help="Print how many committed events wait to be published, and exit")] = False,
) -> None:
    """Publish every committed event to NATS JetStream (WOWSINO_NATS_URL), until stopped;
    several may run, one publishes at a time (docs/operations.md)."""
    from wowsino.stream.relay import BadStreamSettings, Relay, StreamSettings

    settings = Settings.from_env()
    try:
        stream = StreamSettings.from_settings(settings)
    except BadStreamSettings as exc:
        err.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    configure_logging(json_logs=settings.log_json)

    async def job(engine: Any) -> None:
        found = Relay(engine, stream)
        if not lag:
            await found.run_forever()
            return
        behind = await found.lag()
        oldest = behind.oldest.isoformat() if behind.oldest else "-"
        console.print(f"{stream.stream}: {behind.pending} pending, oldest {oldest}")

    with contextlib.suppress(KeyboardInterrupt):
        _with_engine(settings, job)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    Path.cwd()
    main()
