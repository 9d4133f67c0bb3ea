-- Which extractor version made items.text (see archive/extract/registry.py Parser.text_version).
-- Items from before this column were extracted by version 1 (PDF text from pypdf);
-- `evidence reextract` brings them up to the current version from the stored originals.
ALTER TABLE items ADD COLUMN text_version INTEGER NOT NULL DEFAULT 1;
