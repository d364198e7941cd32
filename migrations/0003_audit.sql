-- Write-ahead audit: a purge's history row is written before its first PURGE leaves, with
-- status 'running', and completed afterwards. Items are stored bounded (see core::history);
-- item_count keeps how many there were.
ALTER TABLE purges ADD COLUMN item_count INTEGER;
