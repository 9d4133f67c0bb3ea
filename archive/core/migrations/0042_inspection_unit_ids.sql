-- Inspection records refer to units by id now that the units register (0030) exists. The name
-- column stays (as items.unit and users.unit do) and is kept current by two triggers: a unit
-- registered later links the records that already carry its name, and a rename rewrites the
-- name on every record that refers to the unit — in the renaming transaction itself.
ALTER TABLE sites ADD COLUMN unit_id INTEGER REFERENCES units(id);
ALTER TABLE problems ADD COLUMN unit_id INTEGER REFERENCES units(id);
UPDATE sites SET unit_id = (SELECT id FROM units WHERE units.name = sites.unit);
UPDATE problems SET unit_id = (SELECT id FROM units WHERE units.name = problems.unit);
CREATE INDEX sites_unit_id ON sites(unit_id);
CREATE INDEX problems_unit_id ON problems(unit_id);
CREATE TRIGGER inspection_unit_added AFTER INSERT ON units BEGIN UPDATE sites SET unit_id = NEW.id WHERE unit = NEW.name AND unit_id IS NULL; UPDATE problems SET unit_id = NEW.id WHERE unit = NEW.name AND unit_id IS NULL; END;
CREATE TRIGGER inspection_unit_renamed AFTER UPDATE OF name ON units BEGIN UPDATE sites SET unit = NEW.name WHERE unit_id = NEW.id; UPDATE problems SET unit = NEW.name WHERE unit_id = NEW.id; END;
