-- Retention (issue 14 point 5): raw mail, attachments and personal fields
-- of 受付完了 requests whose batch is old enough may be purged by
-- `sos-intake purge`; everything else stays as the earlier migrations
-- guarantee. Each purge is also written to audit_log.

-- When a blob's bytes were purged (its row, hash and size stay).
ALTER TABLE blobs ADD COLUMN purged_at TEXT;
-- When a 受付完了 request's personal fields (担当者名, 電話番号) were blanked.
ALTER TABLE requests ADD COLUMN personal_purged_at TEXT;

-- A blob still never changes, except once: its content emptied by a purge
-- (hash, size and time of storage kept).
DROP TRIGGER blobs_never_change;
CREATE TRIGGER blobs_never_change
BEFORE UPDATE ON blobs
WHEN NOT (
    OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL
    AND NEW.sha256 IS OLD.sha256 AND NEW.size IS OLD.size AND NEW.stored_at IS OLD.stored_at
    AND length(NEW.content) = 0
)
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: blobs are content-addressed and never change');
END;

-- A 受付完了 record still never changes, except once: the purge of its
-- personal fields, which blanks them and changes nothing else that
-- identifies or decides the request (the decisions on request_items keep
-- their own guard).
DROP TRIGGER requests_completed_no_update;
CREATE TRIGGER requests_completed_no_update
BEFORE UPDATE ON requests
WHEN OLD.status = '受付完了' AND NOT (
    OLD.personal_purged_at IS NULL AND NEW.personal_purged_at IS NOT NULL
    AND NEW.institution_contact = '' AND NEW.institution_phone = ''
    AND NEW.id IS OLD.id AND NEW.receipt IS OLD.receipt AND NEW.filing_key IS OLD.filing_key
    AND NEW.status IS OLD.status AND NEW.source IS OLD.source
    AND NEW.received_at IS OLD.received_at AND NEW.batch_date IS OLD.batch_date
    AND NEW.prefecture IS OLD.prefecture AND NEW.institution_code IS OLD.institution_code
    AND NEW.institution_name IS OLD.institution_name
    AND NEW.institution_address IS OLD.institution_address
    AND NEW.institution_postcode IS OLD.institution_postcode
    AND NEW.requested_items IS OLD.requested_items AND NEW.findings IS OLD.findings
    AND NEW.superseded_by IS OLD.superseded_by
    AND NEW.source_message_sha256 IS OLD.source_message_sha256
    AND NEW.attachment_sha256 IS OLD.attachment_sha256
    AND NEW.completed_at IS OLD.completed_at AND NEW.completed_by IS OLD.completed_by
)
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: record is 受付完了 and cannot change');
END;
