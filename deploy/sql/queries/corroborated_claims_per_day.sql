-- Corroborated claims per day: claims carried by two or more distinct sources
-- (claim_cluster_id groups the same claim across articles; corroboration counts its sources).
SELECT
    c.date,
    count(DISTINCT c.claim_cluster_id) AS corroborated_claims,
    count(*) AS claim_rows,
    max(c.corroboration) AS most_sources
FROM claims AS c
WHERE c.corroboration >= 2
GROUP BY c.date
ORDER BY c.date;
