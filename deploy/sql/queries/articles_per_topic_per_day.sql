-- Articles per topic per day, canonical stories only (duplicates counted once, with their story).
SELECT
    a.date,
    a.topic,
    count(*) AS stories,
    sum(a.word_count) AS words
FROM articles AS a
WHERE NOT a.is_duplicate
GROUP BY a.date, a.topic
ORDER BY a.date, stories DESC, a.topic;
