-- The queue's listing without a batch filter (newest batch first, then
-- receipt order) reads this index in order instead of sorting the whole
-- queue; the per-status counts of the current versions are read from the
-- second without touching the table. Owner: queue (engineer D).
CREATE INDEX requests_list_order ON requests (batch_date DESC, received_at, id);
CREATE INDEX requests_status_current ON requests (status, superseded_by);
