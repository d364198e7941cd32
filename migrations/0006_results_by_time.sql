-- Results by time: the fan-out's start order reads each instance's mean time over the last 10
-- minutes (once a minute per isolate) and the Instances page the last 24 hours; both read
-- only that range instead of scanning every result ever recorded (D1 bills rows read).
CREATE INDEX purge_results_at ON purge_results(at);
