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
CREATE FUNCTION sos_blobs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL
       AND NEW.sha256 = OLD.sha256 AND NEW.size = OLD.size AND NEW.stored_at = OLD.stored_at
       AND octet_length(NEW.content) = 0 THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'sos-intake: blobs are content-addressed and never change' USING ERRCODE = 'raise_exception';
END;
$$;

DROP TRIGGER blobs_never_change ON blobs;
CREATE TRIGGER blobs_never_change
BEFORE UPDATE ON blobs
FOR EACH ROW EXECUTE FUNCTION sos_blobs_guard();

-- A 受付完了 record still never changes, except once: the purge of its
-- personal fields, which blanks them and changes no other column (every
-- column compared, including any added later).
CREATE OR REPLACE FUNCTION sos_requests_completed_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = '受付完了' THEN
        IF TG_OP = 'UPDATE'
           AND OLD.personal_purged_at IS NULL AND NEW.personal_purged_at IS NOT NULL
           AND NEW.institution_contact = '' AND NEW.institution_phone = ''
           AND (to_jsonb(NEW) - 'institution_contact' - 'institution_phone' - 'personal_purged_at' - 'updated_at')
             = (to_jsonb(OLD) - 'institution_contact' - 'institution_phone' - 'personal_purged_at' - 'updated_at') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'sos-intake: record is 受付完了 and cannot change' USING ERRCODE = 'raise_exception';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
