-- Readiness counts every live item of a map by code, type, review state and date
-- (archive.readiness.coverage.load_counts): this index holds those columns, so the count
-- walks it instead of the items rows, which carry the extracted text.
CREATE INDEX items_readiness ON items(id, deleted_at, material_type, review_state, date);
