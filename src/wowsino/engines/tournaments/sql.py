"""The statements that score, enter and un-score players, set-based over a whole batch.

They share the fixed-point rules of ``config`` and one progress sequence: a score's
``reached`` is the ``seq`` of the contribution that made it (the first one reaching a
``max_multiplier``; the last positive one of a sum), or the entry's own number while
the score is 0. Every statement that scores a tournament takes its row FOR KEY SHARE,
so a close (FOR UPDATE) waits for them and none scores it after.
"""

from __future__ import annotations

from wowsino.kernel import wire

MAX_SCORE = 10**18
MAX_MULTIPLIER = 10**12  # score units: a multiplier of 1,000,000

# the value one contribution adds, in score units (config.py)
_VALUE = (
    "CASE t.scoring WHEN 'sum_wagered' THEN w.amount WHEN 'sum_won' THEN w.win_amount "
    "WHEN 'bet_count' THEN 1 WHEN 'points' THEN w.points ELSE CAST(least(div("
    f"CAST(w.win_amount AS numeric) * 1000000, w.amount), {MAX_MULTIPLIER}) AS bigint) END"
)

# per (tournament, player): what a set of new contributions ``c`` adds
_ADDED = (
    "SELECT c.tournament_id, c.player_id, sum(c.value) AS added, max(c.value) AS best, "
    "max(c.seq) FILTER (WHERE c.value > 0) AS last_seq, "
    "(array_agg(c.seq ORDER BY c.value DESC, c.seq))[1] AS best_seq "
    "FROM c GROUP BY c.tournament_id, c.player_id"
)

# Score the batch for players already entered; list the matches of players who are not.
SCORE = f"""
WITH w AS (
    SELECT w.source_wager_id, w.player_id, w.brand_id, w.currency, w.amount, w.win_amount,
           w.points, w.category, {wire.instant("settled", "w.settled_ix")} AS settled_at,
           w.ord
      FROM unnest(CAST(:ids AS text[]), CAST(:players AS uuid[]),
        CAST(:brands AS uuid[]), CAST(:currencies AS text[]), CAST(:amounts AS bigint[]),
        CAST(:wins AS bigint[]), CAST(:points AS bigint[]), CAST(:categories AS text[]),
        CAST(:settled_ix AS integer[])) WITH ORDINALITY
        AS w (source_wager_id, player_id, brand_id, currency, amount, win_amount, points,
              category, settled_ix, ord)
), t AS (
    SELECT id, name, scoring, currency, min_bet, game_categories, opt_in, starts_at, ends_at
      FROM tournaments
     WHERE tenant_id = :tenant_id AND mode = :mode AND status = 'active'
       AND ends_at > :first_at AND starts_at <= :last_at
       AND CASE WHEN CAST(:only AS uuid) IS NULL THEN scoring <> 'points'
                ELSE id = CAST(:only AS uuid) END
     ORDER BY id FOR KEY SHARE
), m AS MATERIALIZED (
    -- numbered in the batch's order, entered or not, so who reached a score first does
    -- not depend on which of the two statements records it
    SELECT matched.*, nextval('tournament_progress_seq') AS seq FROM (
        SELECT w.source_wager_id, w.player_id, w.brand_id, w.amount, w.win_amount, w.points,
               w.ord, t.id AS tournament_id, t.opt_in, {_VALUE} AS value,
               EXISTS (SELECT 1 FROM tournament_entries e WHERE e.tenant_id = :tenant_id
                          AND e.mode = :mode AND e.tournament_id = t.id
                          AND e.player_id = w.player_id) AS entered
          FROM w JOIN t ON w.settled_at >= t.starts_at AND w.settled_at < t.ends_at
           AND (t.currency IS NULL OR t.currency = w.currency)
           AND (t.min_bet IS NULL OR w.amount >= t.min_bet)
           AND (w.category IS NULL OR t.game_categories IS NULL
                OR w.category = ANY (t.game_categories))
         ORDER BY w.ord, t.id) matched
), c AS (
    INSERT INTO tournament_scores (tenant_id, mode, tournament_id, source_wager_id, player_id,
        seq, value, amount, win_amount, points, source, created_at)
    SELECT :tenant_id, :mode, m.tournament_id, m.source_wager_id, m.player_id, m.seq, m.value,
           m.amount, m.win_amount, m.points, :source, :at
      FROM m WHERE m.entered
    ON CONFLICT DO NOTHING
    RETURNING tournament_id, player_id, source_wager_id, value, seq
), a AS ({_ADDED}
), u AS (
    UPDATE tournament_entries e SET
        score = CASE WHEN t.scoring = 'max_multiplier' THEN greatest(e.score, a.best)
                     ELSE least(e.score + a.added, {MAX_SCORE}) END,
        reached = CASE WHEN t.scoring = 'max_multiplier'
                       THEN CASE WHEN a.best > e.score THEN a.best_seq ELSE e.reached END
                       WHEN a.added > 0 THEN a.last_seq ELSE e.reached END
      FROM a JOIN t ON t.id = a.tournament_id
     WHERE e.tenant_id = :tenant_id AND e.mode = :mode AND e.tournament_id = a.tournament_id
       AND e.player_id = a.player_id
    RETURNING e.tournament_id, e.player_id, e.score
)
SELECT 'scored' AS kind, c.source_wager_id, c.tournament_id, c.player_id, NULL::uuid AS brand_id,
       c.value, u.score AS total, NULL::bigint AS amount, NULL::bigint AS win_amount,
       NULL::bigint AS points, NULL::bigint AS ord, c.seq, t.name, t.scoring, t.currency,
       t.opt_in
  FROM c JOIN u ON u.tournament_id = c.tournament_id AND u.player_id = c.player_id
  JOIN t ON t.id = c.tournament_id
UNION ALL
SELECT 'pending', m.source_wager_id, m.tournament_id, m.player_id, m.brand_id, m.value, NULL,
       m.amount, m.win_amount, m.points, m.ord, m.seq, t.name, t.scoring, t.currency, t.opt_in
  FROM m JOIN t ON t.id = m.tournament_id WHERE NOT m.entered
"""

# Enter candidates (tournament, player), in order, within each tournament's
# max_participants, and score the given contributions (numbered by SCORE) of those
# entered. A player entered concurrently by another transaction is combined with, not
# entered twice.
ENTER = f"""
WITH cand AS (
    SELECT * FROM unnest(CAST(:c_tournaments AS uuid[]), CAST(:c_players AS uuid[]),
        CAST(:c_brands AS uuid[])) WITH ORDINALITY AS cand (tournament_id, player_id, brand_id,
                                                            ord)
), t AS (
    SELECT id, scoring, max_participants FROM tournaments
     WHERE tenant_id = :tenant_id AND mode = :mode AND status = 'active'
       AND id IN (SELECT tournament_id FROM cand)
     ORDER BY id FOR KEY SHARE
), capped AS (
    -- a cap holds one admitting transaction at a time, on the row's own count; a race
    -- without one counts in tournament_entry_counts and its row is only shared
    SELECT s.id, s.participants FROM tournaments s
     WHERE s.tenant_id = :tenant_id
       AND s.id IN (SELECT id FROM t WHERE max_participants IS NOT NULL)
     ORDER BY s.id FOR NO KEY UPDATE
), fresh AS (
    SELECT cand.*, row_number() OVER (PARTITION BY cand.tournament_id ORDER BY cand.ord) AS rn
      FROM cand WHERE NOT EXISTS (
        SELECT 1 FROM tournament_entries e WHERE e.tenant_id = :tenant_id AND e.mode = :mode
           AND e.tournament_id = cand.tournament_id AND e.player_id = cand.player_id)
), admitted AS (
    SELECT f.tournament_id, f.player_id, f.brand_id, f.ord FROM fresh f
      JOIN t ON t.id = f.tournament_id LEFT JOIN capped k ON k.id = f.tournament_id
     WHERE t.max_participants IS NULL OR k.participants + f.rn <= t.max_participants
), eligible AS (
    -- the admitted, and those another transaction entered since SCORE looked: their
    -- wagers are scored too (the insert below meets their entry and adds to it)
    SELECT tournament_id, player_id, brand_id, ord FROM admitted
    UNION ALL
    SELECT cand.tournament_id, cand.player_id, cand.brand_id, cand.ord
      FROM cand JOIN t ON t.id = cand.tournament_id
     WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.tournament_id = cand.tournament_id
                          AND f.player_id = cand.player_id)
), w AS (
    SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:w_tournaments AS uuid[]),
        CAST(:w_players AS uuid[]), CAST(:seqs AS bigint[]), CAST(:values AS bigint[]),
        CAST(:amounts AS bigint[]), CAST(:wins AS bigint[]), CAST(:points AS bigint[]))
        AS w (source_wager_id, tournament_id, player_id, seq, value, amount, win_amount, points)
), c AS (
    INSERT INTO tournament_scores (tenant_id, mode, tournament_id, source_wager_id, player_id,
        seq, value, amount, win_amount, points, source, created_at)
    SELECT :tenant_id, :mode, w.tournament_id, w.source_wager_id, w.player_id, w.seq, w.value,
           w.amount, w.win_amount, w.points, :source, :at
      FROM w JOIN eligible a ON a.tournament_id = w.tournament_id AND a.player_id = w.player_id
    ON CONFLICT DO NOTHING
    RETURNING tournament_id, player_id, source_wager_id, value, seq
), g AS ({_ADDED}
), ins AS (
    INSERT INTO tournament_entries AS e (tenant_id, mode, tournament_id, player_id, brand_id,
        score, reached, entered_seq, entered_at)
    SELECT :tenant_id, :mode, x.tournament_id, x.player_id, x.brand_id, x.score,
           coalesce(x.progress, x.entered_seq), x.entered_seq, :at
      FROM (SELECT y.*, nextval('tournament_progress_seq') AS entered_seq FROM (
            SELECT a.tournament_id, a.player_id, a.brand_id,
                   CASE WHEN t.scoring = 'max_multiplier' THEN coalesce(g.best, 0)
                        ELSE least(coalesce(g.added, 0), {MAX_SCORE}) END AS score,
                   CASE WHEN t.scoring = 'max_multiplier'
                        THEN CASE WHEN g.best > 0 THEN g.best_seq END
                        ELSE g.last_seq END AS progress
              FROM eligible a JOIN t ON t.id = a.tournament_id
              LEFT JOIN g ON g.tournament_id = a.tournament_id AND g.player_id = a.player_id
             ORDER BY a.ord) y) x
    ON CONFLICT (tenant_id, mode, tournament_id, player_id) DO UPDATE SET
        score = CASE WHEN (SELECT s.scoring FROM tournaments s WHERE s.tenant_id = e.tenant_id
                              AND s.id = e.tournament_id) = 'max_multiplier'
                     THEN greatest(e.score, excluded.score)
                     ELSE least(e.score + excluded.score, {MAX_SCORE}) END,
        reached = CASE WHEN excluded.score > e.score
                         OR (excluded.score > 0 AND (SELECT s.scoring FROM tournaments s
                             WHERE s.tenant_id = e.tenant_id AND s.id = e.tournament_id)
                             <> 'max_multiplier')
                       THEN excluded.reached ELSE e.reached END
    RETURNING e.tournament_id, e.player_id, e.score, (e.xmax = 0) AS inserted
), n AS (
    SELECT tournament_id, count(*) AS entered FROM ins WHERE inserted GROUP BY tournament_id
), bump AS (
    UPDATE tournaments s SET participants = s.participants + n.entered FROM n
     WHERE s.tenant_id = :tenant_id AND s.id = n.tournament_id
       AND s.id IN (SELECT id FROM capped)
    RETURNING s.id
), counted AS (
    INSERT INTO tournament_entry_counts AS k (tenant_id, mode, tournament_id, stripe, entered)
    SELECT :tenant_id, :mode, n.tournament_id, pg_backend_pid() % 32, n.entered FROM n
     WHERE n.tournament_id NOT IN (SELECT id FROM capped)
    ON CONFLICT (tenant_id, mode, tournament_id, stripe)
    DO UPDATE SET entered = k.entered + excluded.entered
    RETURNING k.tournament_id
)
SELECT 'entry' AS kind, NULL::text AS source_wager_id, cand.tournament_id, cand.player_id,
       NULL::bigint AS value, i.score AS total,
       CASE WHEN i.inserted THEN 'entered' WHEN i.player_id IS NOT NULL THEN 'already'
            WHEN t.id IS NULL THEN 'not_active' WHEN f.player_id IS NULL THEN 'already'
            ELSE 'full' END AS outcome
  FROM cand LEFT JOIN t ON t.id = cand.tournament_id
  LEFT JOIN fresh f ON f.tournament_id = cand.tournament_id AND f.player_id = cand.player_id
  LEFT JOIN ins i ON i.tournament_id = cand.tournament_id AND i.player_id = cand.player_id
UNION ALL
SELECT 'scored', c.source_wager_id, c.tournament_id, c.player_id, c.value, NULL, NULL
  FROM c
"""

# Lock the entries a rollback of ``ids`` recomputes (the recompute then reads every
# contribution committed before it: a concurrent scorer waits, then adds on top).
LOCK_FOR_REVERSAL = """
WITH s AS (
    SELECT DISTINCT tournament_id, player_id FROM tournament_scores
     WHERE tenant_id = :tenant_id AND mode = :mode
       AND source_wager_id = ANY (CAST(:ids AS text[])) AND rolled_back_at IS NULL
), t AS (
    SELECT id FROM tournaments WHERE tenant_id = :tenant_id AND mode = :mode
       AND id IN (SELECT tournament_id FROM s) ORDER BY id FOR KEY SHARE
)
SELECT e.tournament_id, e.player_id FROM tournament_entries e JOIN s
    ON s.tournament_id = e.tournament_id AND s.player_id = e.player_id
 WHERE e.tenant_id = :tenant_id AND e.mode = :mode
   AND e.tournament_id IN (SELECT id FROM t)
 ORDER BY e.tournament_id, e.player_id FOR UPDATE OF e
"""

# Take the contributions of ``ids`` out of every tournament not yet closed, and set each
# affected score to what the contributions left make it.
REVERSE = f"""
WITH t AS (
    SELECT id, name, scoring, currency, status FROM tournaments
     WHERE tenant_id = :tenant_id AND mode = :mode AND id = ANY (CAST(:tournaments AS uuid[]))
), undone AS (
    UPDATE tournament_scores s SET rolled_back_at = :at FROM t
     WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND s.tournament_id = t.id
       AND s.source_wager_id = ANY (CAST(:ids AS text[])) AND s.rolled_back_at IS NULL
       AND t.status <> 'closed'
    RETURNING s.tournament_id, s.player_id, s.source_wager_id, s.value
), pairs AS (
    SELECT DISTINCT tournament_id, player_id FROM undone
), r AS (
    SELECT p.tournament_id, p.player_id, coalesce(sum(l.value), 0) AS total,
           coalesce(max(l.value), 0) AS best,
           max(l.seq) FILTER (WHERE l.value > 0) AS last_seq,
           (array_agg(l.seq ORDER BY l.value DESC, l.seq) FILTER (WHERE l.value > 0))[1]
               AS best_seq
      FROM pairs p LEFT JOIN tournament_scores l ON l.tenant_id = :tenant_id
       AND l.mode = :mode AND l.tournament_id = p.tournament_id AND l.player_id = p.player_id
       AND l.rolled_back_at IS NULL AND NOT (l.source_wager_id = ANY (CAST(:ids AS text[])))
     GROUP BY p.tournament_id, p.player_id
), u AS (
    UPDATE tournament_entries e SET
        score = CASE WHEN t.scoring = 'max_multiplier' THEN r.best
                     ELSE least(r.total, {MAX_SCORE}) END,
        reached = coalesce(CASE WHEN t.scoring = 'max_multiplier' THEN r.best_seq
                                ELSE r.last_seq END, e.entered_seq)
      FROM r JOIN t ON t.id = r.tournament_id
     WHERE e.tenant_id = :tenant_id AND e.mode = :mode AND e.tournament_id = r.tournament_id
       AND e.player_id = r.player_id
    RETURNING e.tournament_id, e.player_id, e.score
)
SELECT d.source_wager_id, d.tournament_id, d.value, u.score AS total, true AS reversed,
       t.name, t.scoring, t.currency
  FROM undone d JOIN t ON t.id = d.tournament_id
  JOIN u ON u.tournament_id = d.tournament_id AND u.player_id = d.player_id
UNION ALL
SELECT s.source_wager_id, s.tournament_id, s.value, NULL, false, t.name, t.scoring, t.currency
  FROM tournament_scores s JOIN t ON t.id = s.tournament_id
 WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND t.status = 'closed'
   AND s.source_wager_id = ANY (CAST(:ids AS text[])) AND s.rolled_back_at IS NULL
"""
