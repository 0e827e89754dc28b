"""Splitting migration scripts into statements: ``;`` only ends a statement outside
quotes, comments and dollar-quoted bodies."""

from __future__ import annotations

import pytest

from wowsino.kernel.db import split_sql


def test_plain_statements() -> None:
    assert split_sql("SELECT 1; SELECT 2;\n\nSELECT 3") == ["SELECT 1", "SELECT 2", "SELECT 3"]
    assert split_sql("CREATE TABLE t (a int);") == ["CREATE TABLE t (a int)"]


@pytest.mark.parametrize("script", ["", "   \n\t", ";", " ; ;; \n;", "-- only a comment",
                                    "/* only a comment */", "-- a\n;\n-- b\n"])
def test_nothing_to_run(script: str) -> None:
    assert split_sql(script) == []


def test_semicolons_inside_quotes() -> None:
    assert split_sql("SELECT 'a;b'; SELECT 'it''s; fine'; SELECT \"odd;name\" FROM t") == [
        "SELECT 'a;b'", "SELECT 'it''s; fine'", 'SELECT "odd;name" FROM t',
    ]
    assert split_sql('SELECT "a""b;c"; SELECT 2') == ['SELECT "a""b;c"', "SELECT 2"]


def test_comment_markers_inside_quotes_are_text() -> None:
    assert split_sql("SELECT '--not a comment;'; SELECT '/* nor; this */'") == [
        "SELECT '--not a comment;'", "SELECT '/* nor; this */'",
    ]


def test_line_comments_are_dropped_with_their_semicolons_and_quotes() -> None:
    script = "-- header; with a semicolon and it's quote\nSELECT 1; -- trailing; comment\nSELECT 2"
    assert split_sql(script) == ["SELECT 1", "SELECT 2"]
    assert split_sql("SELECT 1 -- c;d\n; SELECT 2") == ["SELECT 1", "SELECT 2"]


def test_block_comments_hide_semicolons_and_quotes() -> None:
    assert split_sql("SELECT 1; /* a; b */ SELECT 2;") == ["SELECT 1", "SELECT 2"]
    assert split_sql("/* it's */ SELECT 1; SELECT 2") == ["SELECT 1", "SELECT 2"]
    # PostgreSQL block comments nest
    assert split_sql("SELECT /* outer /* inner; */ still; comment */ 1; SELECT 2") == [
        "SELECT   1", "SELECT 2",
    ]
    # a comment separates tokens like whitespace does
    assert split_sql("SELECT/**/1;") == ["SELECT 1"]


def test_dollar_quoted_bodies() -> None:
    function = (
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    -- a comment; inside the body\n"
        "    RAISE EXCEPTION 'no; way';\n"
        "    RETURN NEW;\n"
        "END;\n"
        "$$"
    )
    assert split_sql(function + ";\nCREATE TRIGGER t BEFORE UPDATE ON x "
                     "FOR EACH ROW EXECUTE FUNCTION f();") == [
        function, "CREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION f()",
    ]


def test_tagged_dollar_quotes_contain_other_dollar_quotes() -> None:
    body = "DO $outer$ BEGIN EXECUTE $$SELECT 1; SELECT 2$$; END $outer$"
    assert split_sql(f"{body}; SELECT $_x1$;'$_x1$") == [body, "SELECT $_x1$;'$_x1$"]


def test_positional_parameters_are_not_dollar_quotes() -> None:
    assert split_sql("SELECT $1, $2; SELECT $1::int") == ["SELECT $1, $2", "SELECT $1::int"]


def test_the_foundation_migration_splits_into_whole_statements() -> None:
    import importlib.util

    from wowsino.kernel.db import MIGRATIONS_DIR

    spec = importlib.util.spec_from_file_location(
        "foundation", MIGRATIONS_DIR / "versions" / "0001_foundation.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    schema = module.SCHEMA
    statements = split_sql(schema)
    functions = [s for s in statements if s.startswith("CREATE FUNCTION")]
    assert [f.split("(")[0] for f in functions] == [
        "CREATE FUNCTION ledger_post", "CREATE FUNCTION forbid_rewrite",
    ]
    assert all(f.endswith("$$") for f in functions)
    assert not any(s.startswith(("END", "$$", "--")) for s in statements)
    assert sum(s.startswith("CREATE TABLE") for s in statements) == schema.count("CREATE TABLE")
