-- A web export is the package of one map (docs/maps.md): the map picked when it was started.
ALTER TABLE export_jobs ADD COLUMN map_id TEXT;
