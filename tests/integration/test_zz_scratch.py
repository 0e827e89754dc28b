from tests.integration.support import create_player

async def test_scratch(tenant) -> None:
    await create_player(tenant, "alice")
    out = []
    for name, call in [
        ("query", lambda: tenant.get("/v1/players", params={"query": "a\x00b"})),
        ("tag", lambda: tenant.get("/v1/players", params={"tag": "a\x00b"})),
        ("email", lambda: tenant.post("/v1/players", {"username": "bob", "email": "b\x00b@example.com"})),
        ("ext", lambda: tenant.post("/v1/players", {"username": "bob", "email": "bob@example.com", "external_ref": "x\x00"})),
        ("reason", lambda: tenant.patch("/v1/players/alice/status", {"status": "suspended", "reason": "x\x00y"})),
        ("adjreason", lambda: tenant.post("/v1/players/alice/adjustments", {"rail": "real", "asset": "USD", "amount": 1, "reason": "x\x00y"})),
        ("actor", lambda: tenant.get("/v1/audit", params={"actor": "a\x00b"})),
        ("key", lambda: tenant.get("/v1/players/al%00ice")),
        ("idem", lambda: tenant.post("/v1/players", {"username": "bob", "email": "bob@example.com", "idempotency_key": "k\x00"})),
    ]:
        try:
            r = await call()
            out.append(f"{name} {r.status_code} {r.text[:100]}")
        except Exception as e:
            out.append(f"{name} EXC {e!r}")
    print("\nRESULTS\n" + "\n".join(out))
