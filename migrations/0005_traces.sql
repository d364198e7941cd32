-- Each purge attempt's W3C trace id, so the history links to its trace (TRACE_URL_TEMPLATE).
ALTER TABLE purges ADD COLUMN trace_id TEXT;
-- Each (item, instance) result's time, for the Instances page's latency figures.
ALTER TABLE purge_results ADD COLUMN elapsed_ms INTEGER;
