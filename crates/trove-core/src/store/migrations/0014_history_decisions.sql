-- Duplicate decisions in the operation log (issues 14 and 16): `trove dupes mark`, the
-- Hydrus set_file_relationships and every other writer of `dupe_decisions` are recorded,
-- so `trove undo` reverts a mark. Kinds 19 (decision added) and 20 (removed); an UPDATE
-- is a removal then an addition. x = a, y = b (file ids, a < b), v = decision, w =
-- decided_at; `file` stays NULL so a decision is not a change of either file's record.

CREATE TRIGGER history_decision_insert AFTER INSERT ON dupe_decisions
BEGIN
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 19, NEW.a, NEW.b, NEW.decision, NEW.decided_at FROM op_recording;
END;

CREATE TRIGGER history_decision_delete AFTER DELETE ON dupe_decisions
BEGIN
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 20, OLD.a, OLD.b, OLD.decision, OLD.decided_at FROM op_recording;
END;

CREATE TRIGGER history_decision_update AFTER UPDATE ON dupe_decisions
WHEN OLD.decision IS NOT NEW.decision OR OLD.a IS NOT NEW.a OR OLD.b IS NOT NEW.b
BEGIN
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 20, OLD.a, OLD.b, OLD.decision, OLD.decided_at FROM op_recording;
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 19, NEW.a, NEW.b, NEW.decision, NEW.decided_at FROM op_recording;
END;
