-- Duplicates per story: wire stories carried more than once, biggest clusters first.
-- cluster_id is the canonical (earliest) article's id; every copy keeps its own row.
SELECT
    a.cluster_id,
    max(CASE WHEN NOT a.is_duplicate THEN a.title END) AS story,
    count(*) AS articles,
    sum(CASE WHEN a.is_duplicate THEN 1 ELSE 0 END) AS duplicates,
    count(DISTINCT a.source) AS sources,
    min(a.published_at) AS first_published,
    max(a.published_at) AS last_published
FROM articles AS a
GROUP BY a.cluster_id
HAVING count(*) > 1
ORDER BY duplicates DESC, a.cluster_id
LIMIT 50;
