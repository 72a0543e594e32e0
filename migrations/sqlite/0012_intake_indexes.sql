-- Issue 15: every per-mail lookup of the filing uses an index that holds
-- only what it asks for, so a mail costs the same however full the queue is.

-- Supersession (queue::filing::overlapping_sheets), first seek: the current
-- completed sheets of an institution in a batch. The older
-- (institution_code, batch_date) index also holds every superseded version
-- and every unauthenticated resend, which a backlog adds by the thousand.
CREATE INDEX requests_current_by_status ON requests (institution_code, batch_date, source, status)
    WHERE superseded_by IS NULL AND refused_because_completed = 0;

-- Second seek: the current sheets of trusted senders of one prefecture (the
-- only ones a filing may replace; it replaces them, so they stay few).
CREATE INDEX requests_current_trusted ON requests (institution_code, batch_date, source, prefecture)
    WHERE superseded_by IS NULL AND refused_because_completed = 0 AND sender_auth <> 'unchecked';

-- Earlier distributions (queue::filing::institution_context): the completed
-- records of an institution, not all of its records.
CREATE INDEX requests_institution_status ON requests (institution_code, status);
