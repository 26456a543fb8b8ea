-- 001_reference_tables.sql — the reference data every schedule points at: medical centers,
-- specialties and medics. Ids are chosen by the seed (appointmentctl seed), not generated, so
-- every country database numbers them alike and the examples work everywhere.
CREATE TABLE medical_centers (
	center_id integer PRIMARY KEY CHECK (center_id >= 1),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE specialties (
	specialty_id integer PRIMARY KEY CHECK (specialty_id >= 1),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE medics (
	medic_id integer PRIMARY KEY CHECK (medic_id >= 1),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
