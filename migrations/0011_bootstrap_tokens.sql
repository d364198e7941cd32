-- The bootstrap admin (the person behind API_TOKENS) signs in only with API_TOKENS: rotating
-- them is the remedy for a leaked one, and a personal token of theirs would survive it. Those
-- issued before are revoked here, and the sessions signed in with them end.
DELETE FROM sessions WHERE token_id IN
    (SELECT t.id FROM tokens t JOIN people p ON p.id = t.person_id WHERE p.name = 'admin');
UPDATE tokens SET revoked_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
    WHERE revoked_at IS NULL AND person_id IN (SELECT id FROM people WHERE name = 'admin');
