-- Tenants that count their dashboard days in a time zone other than UTC.
CREATE TABLE rm_dashboard_zones (
    tenant_id TEXT PRIMARY KEY,
    time_zone TEXT NOT NULL
);
