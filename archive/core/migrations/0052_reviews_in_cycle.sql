-- A review decision is made in the current cycle, whoever writes it (docs/maps.md "Cycles").
CREATE TRIGGER reviews_in_current_cycle AFTER INSERT ON reviews WHEN NEW.cycle_id IS NULL BEGIN UPDATE reviews SET cycle_id = (SELECT id FROM cycles WHERE state = 'current') WHERE id = NEW.id; END;
