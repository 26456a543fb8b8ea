-- 002_schedules.sql — bookable slots. A slot is taken when is_available turns false; only the
-- booking transaction (lib/pg/db_booking.c) does that, in the same transaction that inserts the
-- appointment.
CREATE TABLE schedules (
	schedule_id bigint PRIMARY KEY CHECK (schedule_id >= 1),
	center_id integer NOT NULL REFERENCES medical_centers (center_id),
	specialty_id integer NOT NULL REFERENCES specialties (specialty_id),
	medic_id integer NOT NULL REFERENCES medics (medic_id),
	available_at timestamptz NOT NULL,
	is_available boolean NOT NULL DEFAULT true,
	country_iso char(2) NOT NULL CHECK (country_iso ~ '^[A-Z]{2}$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- "What is still free in this country, soonest first" (listing, operators); only free rows.
CREATE INDEX schedules_free_idx ON schedules (country_iso, available_at) WHERE is_available;
-- The foreign keys are checked on every delete of a reference row; keep those lookups cheap.
CREATE INDEX schedules_center_idx ON schedules (center_id);
CREATE INDEX schedules_specialty_idx ON schedules (specialty_id);
CREATE INDEX schedules_medic_idx ON schedules (medic_id);
