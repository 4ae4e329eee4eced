"""Backfill the register over time (docs/design.md §3, §7) for the residents that existed before
it kept dates: one open registration period per resident, in their district, from their birth
date (when they moved in is not known: as far as the record goes they were always on the
register, as every report assumed until now). The existing key-population tags keep no start
(`valid_from` None: held since before the register kept dates). From here on the services keep
the dates."""

from django.db import migrations

BATCH = 5000


def backfill(apps, schema_editor):
    Resident = apps.get_model("healthnet", "Resident")
    ResidentRegistration = apps.get_model("healthnet", "ResidentRegistration")
    registered = ResidentRegistration.objects.values("resident_id")
    rows = []
    for pk, district_id, birth_date in (
        Resident.objects.exclude(pk__in=registered)
        .order_by("pk")
        .values_list("pk", "district_id", "birth_date")
        .iterator(chunk_size=BATCH)
    ):
        rows.append(
            ResidentRegistration(resident_id=pk, district_id=district_id, valid_from=birth_date)
        )
        if len(rows) >= BATCH:
            ResidentRegistration.objects.bulk_create(rows)
            rows = []
    ResidentRegistration.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("healthnet", "0007_register_over_time_inpatient_stays")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
