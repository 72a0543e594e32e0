-- Issue 15: every per-mail lookup of the filing uses an index that holds
-- only what it asks for, so a mail costs the same however full the queue is.

-- Supersession (queue::filing::overlapping_sheets): the current sheets of an
-- institution in a batch. The older (institution_code, batch_date) index also
-- holds every superseded version, which a prefecture re-sending all day adds.
CREATE INDEX requests_current_sheets ON requests (institution_code, batch_date, source)
    WHERE superseded_by IS NULL;

-- Earlier distributions (queue::filing::institution_context): the completed
-- records of an institution, not all of its records.
CREATE INDEX requests_institution_status ON requests (institution_code, status);
