-- 003_appointments.sql — booked appointments. appointment_id is the id the API generated
-- (UUID v4), so a redelivered message finds its own row (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE appointments (
	appointment_id uuid PRIMARY KEY,
	insured_id char(5) NOT NULL CHECK (insured_id ~ '^[0-9]{5}$'),
	schedule_id bigint NOT NULL REFERENCES schedules (schedule_id),
	country_iso char(2) NOT NULL CHECK (country_iso ~ '^[A-Z]{2}$'),
	-- 'booked' is what the worker writes; 'cancelled' frees the slot for another booking
	-- (no code path cancels yet: an operator does it by hand, together with is_available).
	status text NOT NULL CHECK (status IN ('booked', 'cancelled')),
	created_at timestamptz NOT NULL,
	processed_at timestamptz NOT NULL DEFAULT now()
);

-- A slot is booked once: at most one live (not cancelled) appointment per schedule. The
-- booking transaction already serialises on the schedule row; this index is the last guard
-- against anything that bypasses it. Partial, so a cancelled appointment keeps its history
-- without blocking the slot.
CREATE UNIQUE INDEX appointments_live_schedule_uidx ON appointments (schedule_id)
	WHERE status <> 'cancelled';

-- An insured person's appointments, newest first (operators, reconciliation).
CREATE INDEX appointments_insured_idx ON appointments (insured_id, created_at DESC);
