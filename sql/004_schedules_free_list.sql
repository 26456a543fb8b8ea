-- 004_schedules_free_list.sql — GET /schedules lists a country's free slots by date, then
-- schedule_id, a page at a time, with their total. This index holds the whole order (so a
-- page stops after offset + limit entries, with no sort) and the filter columns (so the page
-- and the count of the window are index-only scans). It replaces schedules_free_idx, of
-- which it is an extension.
CREATE INDEX schedules_free_list_idx ON schedules (country_iso, available_at, schedule_id)
	INCLUDE (center_id, specialty_id, medic_id) WHERE is_available;
DROP INDEX schedules_free_idx;
