"""Station.week_hours: each station's weekly hours as text, kept by triggers.

The nearest search used to aggregate every returned station's hours rows on
each request (a correlated string_agg per station: a third of the statement's
execution time). The same text now lives in the station's row and the database
keeps it current whenever hours rows are inserted, changed or deleted, by any
path (admin inline, the CSV import, bulk_create, raw SQL, COPY):

* PostgreSQL: three statement-level triggers with transition tables, so a bulk
  insert or COPY of many rows refreshes each touched station once, set-based.
  The function first locks the touched stations' rows, so that its UPDATE
  (a new statement, hence a new snapshot under READ COMMITTED) sees hours rows a
  concurrent transaction committed on the same station.
* SQLite (the embedded default): row-level triggers (SQLite has no statement
  triggers); the aggregate is ordered through a sub-select.

Format: "<weekday> <opens> <closes>" per row, comma-separated, ordered by
weekday then opening time; the empty string for a station without hours.
"""

from django.db import migrations, models

STATION = "services_station"
HOURS = "services_stationhours"

PG_ROW_TEXT = (
    "CAST(h.weekday AS text) || ' ' || CAST(h.opens AS text)"
    " || ' ' || CAST(h.closes AS text)"
)
PG_WEEK = (
    f"COALESCE((SELECT string_agg({PG_ROW_TEXT}, ',' ORDER BY h.weekday, h.opens)"
    f" FROM {HOURS} h WHERE h.station_id = s.id), '')"
)

PG_CREATE = f"""
CREATE OR REPLACE FUNCTION services_station_week_hours_refresh()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  touched bigint[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT station_id) INTO touched FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT station_id) INTO touched FROM old_rows;
  ELSE
    SELECT array_agg(DISTINCT station_id) INTO touched
    FROM (SELECT station_id FROM new_rows UNION SELECT station_id FROM old_rows) x;
  END IF;
  IF touched IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM {STATION} WHERE id = ANY (touched) ORDER BY id FOR UPDATE;
  UPDATE {STATION} s SET week_hours = {PG_WEEK}
  WHERE s.id = ANY (touched) AND s.week_hours IS DISTINCT FROM {PG_WEEK};
  RETURN NULL;
END
$$;
CREATE TRIGGER services_stationhours_week_ins AFTER INSERT ON {HOURS}
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION services_station_week_hours_refresh();
CREATE TRIGGER services_stationhours_week_upd AFTER UPDATE ON {HOURS}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION services_station_week_hours_refresh();
CREATE TRIGGER services_stationhours_week_del AFTER DELETE ON {HOURS}
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION services_station_week_hours_refresh();
UPDATE {STATION} s SET week_hours = {PG_WEEK};
"""

PG_DROP = f"""
DROP TRIGGER IF EXISTS services_stationhours_week_ins ON {HOURS};
DROP TRIGGER IF EXISTS services_stationhours_week_upd ON {HOURS};
DROP TRIGGER IF EXISTS services_stationhours_week_del ON {HOURS};
DROP FUNCTION IF EXISTS services_station_week_hours_refresh();
"""


def _sqlite_week(station_ref: str) -> str:
    return (
        "COALESCE((SELECT group_concat(x, ',') FROM ("
        "SELECT CAST(h.weekday AS text) || ' ' || CAST(h.opens AS text)"
        " || ' ' || CAST(h.closes AS text) AS x"
        f" FROM {HOURS} h WHERE h.station_id = {station_ref}"
        " ORDER BY h.weekday, h.opens)), '')"
    )


def _sqlite_refresh(station_ref: str) -> str:
    return (
        f"UPDATE {STATION} SET week_hours = {_sqlite_week(station_ref)}"
        f" WHERE id = {station_ref};"
    )


SQLITE_CREATE = [
    f"CREATE TRIGGER services_stationhours_week_ins AFTER INSERT ON {HOURS}"
    f" BEGIN {_sqlite_refresh('NEW.station_id')} END",
    f"CREATE TRIGGER services_stationhours_week_upd AFTER UPDATE ON {HOURS}"
    f" BEGIN {_sqlite_refresh('OLD.station_id')} {_sqlite_refresh('NEW.station_id')}"
    " END",
    f"CREATE TRIGGER services_stationhours_week_del AFTER DELETE ON {HOURS}"
    f" BEGIN {_sqlite_refresh('OLD.station_id')} END",
    f"UPDATE {STATION} SET week_hours = {_sqlite_week(STATION + '.id')}",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS services_stationhours_week_ins",
    "DROP TRIGGER IF EXISTS services_stationhours_week_upd",
    "DROP TRIGGER IF EXISTS services_stationhours_week_del",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_CREATE)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)
    else:  # pragma: no cover - the project supports these two
        raise RuntimeError(f"no week_hours triggers for {vendor}")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0009_bulk_path_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="station",
            name="week_hours",
            field=models.TextField(
                db_default="",
                default="",
                editable=False,
                verbose_name="每周开放时间(派生)",
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
