-- Claims by speaker: who is quoted or reported most, in how many distinct stories.
SELECT
    c.speaker,
    count(*) AS claims,
    sum(CASE WHEN c.claim_type = 'direct_quote' THEN 1 ELSE 0 END) AS direct_quotes,
    sum(CASE WHEN c.claim_type = 'reported_speech' THEN 1 ELSE 0 END) AS reported,
    count(DISTINCT c.cluster_id) AS stories,
    max(c.corroboration) AS best_corroboration
FROM claims AS c
WHERE c.speaker IS NOT NULL
GROUP BY c.speaker
ORDER BY claims DESC, c.speaker
LIMIT 50;
