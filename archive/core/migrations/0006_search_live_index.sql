-- Search joins every FTS hit to items for deleted_at/date; deleted_at sits after the text in
-- the row, so without this covering index each check reads the text's overflow pages.
CREATE INDEX items_search_live ON items(id, deleted_at, date, material_type, unit);
