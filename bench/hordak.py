"""The same transfers through django-hordak, a double-entry ledger on the Django ORM.

Django is configured in code against its own database on the benchmark server,
runs hordak's migrations, and creates as many asset accounts as the ledger
benchmark has players, each funded from an equity account. A transfer is
``Account.transfer_to`` (one transaction row and two legs) inside
``transaction.atomic()``; hordak checks at commit that the legs balance. It keeps
no balance row, so it neither locks nor checks the source's balance.

Django's connections belong to threads: one thread per client, one connection each.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

from bench.ledger import MAX_AMOUNT, Throughput

FUNDING = Decimal("10000000.00")


def configure(url: str) -> None:
    """Point Django at ``url`` (once per process) and load hordak."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    parts = urlsplit(url)
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        SECRET_KEY="bench-only",  # noqa: S106 — no request is ever served
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "mptt", "hordak"],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"),
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
            "CONN_MAX_AGE": None,
        }},
        DEFAULT_CURRENCY="USD",
        CURRENCIES=["USD"],
        HORDAK_CURRENCIES=["USD"],
        LOGGING_CONFIG=None,
    )
    django.setup()


@dataclass
class HordakBench:
    """Hordak's schema and accounts on a fresh database; timed rounds of transfers."""

    accounts: list[Any]
    clients: int

    @classmethod
    def prepare(cls, url: str, *, players: int, clients: int) -> HordakBench:
        configure(url)
        from django.core.management import call_command
        from django.db import connection, transaction
        from hordak.models import Account, AccountType
        from moneyed import Money

        try:
            call_command("migrate", verbosity=0, interactive=False)
            with transaction.atomic():
                equity = Account.objects.create(name="Capital", type=AccountType.equity,
                                                currencies=["USD"])
                accounts = [
                    Account.objects.create(name=f"Player {i}", type=AccountType.asset,
                                           currencies=["USD"])
                    for i in range(players)
                ]
                for account in accounts:
                    equity.transfer_to(account, Money(FUNDING, "USD"), description="funding")
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        finally:
            connection.close()
        return cls(accounts, clients)

    def run(self, seconds: float, *, seed: int = 0) -> Throughput:
        """``clients`` threads, one connection each, transferring for ``seconds``."""
        counts = [0] * self.clients
        errors: list[BaseException] = []
        window: dict[str, float] = {}

        def start_clock() -> None:  # runs once, as the barrier releases every thread
            window["started"] = time.perf_counter()
            window["deadline"] = window["started"] + seconds

        ready = threading.Barrier(self.clients + 1, action=start_clock)

        def client(index: int) -> None:
            from django.db import connection, transaction
            from moneyed import Money

            rng = random.Random(seed * 1000 + index)

            def transfer() -> None:
                source, target = rng.sample(self.accounts, 2)
                amount = Money(Decimal(rng.randint(1, MAX_AMOUNT)) / 100, "USD")
                with transaction.atomic():
                    source.transfer_to(target, amount, description="transfer")

            try:
                for _ in range(3):  # connect and warm up before the clock starts
                    transfer()
                ready.wait(timeout=60)
                deadline = window["deadline"]
                while time.perf_counter() < deadline:
                    transfer()
                    counts[index] += 1
            except BaseException as exc:
                errors.append(exc)
                ready.abort()
            finally:
                connection.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(self.clients)]
        for thread in threads:
            thread.start()
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.wait(timeout=60)
        for thread in threads:
            thread.join(timeout=seconds + 60)
        elapsed = time.perf_counter() - window.get("started", time.perf_counter())
        if errors:
            raise RuntimeError(f"hordak transfer failed: {errors[0]!r}") from errors[0]
        return Throughput(sum(counts), elapsed)


def line(hordak: Throughput, pgbench: Throughput, ours: Throughput) -> str:
    vs_pgbench = hordak.per_second / pgbench.per_second if pgbench.count else 0.0
    ours_vs = ours.per_second / hordak.per_second if hordak.count else 0.0
    return (f"hordak: {hordak.per_second:,.0f} transfers/s, ratio vs pgbench {vs_pgbench:.2f}, "
            f"wowsino/hordak {ours_vs:.2f}")
