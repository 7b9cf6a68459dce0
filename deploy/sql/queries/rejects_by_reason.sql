-- Rejects by reason: which inputs were refused, at which stage, and why.
SELECT
    r.stage,
    r.reason,
    count(*) AS items,
    count(DISTINCT r.input) AS inputs,
    min(r.input) AS example_input
FROM rejects AS r
GROUP BY r.stage, r.reason
ORDER BY items DESC, r.stage, r.reason;
