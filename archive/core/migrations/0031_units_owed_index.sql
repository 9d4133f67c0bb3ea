-- Obligations read every live item's (unit, type, review state, first upload) grouped by leaf:
-- a covering index keeps that scan off the items rows (which hold the extracted text).
CREATE INDEX items_owed ON items(unit, material_type, review_state, created_at, deleted_at)
    WHERE deleted_at IS NULL AND unit IS NOT NULL;
