"""Districts become a table (issue 8): the codes the rows already hold become District rows.

A database migrated from the three-district enum keeps every value: each code found in the
institutions, alliances and residents becomes a district named after its code, with population 0,
until the next `load_network` gives it the name and population of the city's file. An alliance
without a district stored "", which becomes NULL (a reference to no district).

0005_district_foreign_keys then turns the three columns into references to District.code.
"""

from django.db import migrations, models


def districts_from_existing_rows(apps, schema_editor):
    District = apps.get_model("healthnet", "District")
    Alliance = apps.get_model("healthnet", "Alliance")
    Alliance.objects.filter(district="").update(district=None)
    codes = set()
    for model_name in ("Institution", "Alliance", "Resident"):
        model = apps.get_model("healthnet", model_name)
        codes.update(
            model.objects.exclude(district__isnull=True)
            .values_list("district", flat=True)
            .distinct()
        )
    existing = set(District.objects.values_list("code", flat=True))
    District.objects.bulk_create(
        District(code=code, name=code, population=0) for code in sorted(codes - existing)
    )


def alliances_without_district_as_empty_text(apps, schema_editor):
    apps.get_model("healthnet", "Alliance").objects.filter(district__isnull=True).update(
        district=""
    )


class Migration(migrations.Migration):
    dependencies = [
        ("healthnet", "0003_user_scope_constraint_stable_order"),
    ]

    operations = [
        migrations.CreateModel(
            name="District",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.SlugField(max_length=32, unique=True)),
                ("name", models.CharField(max_length=50)),
                ("name_en", models.CharField(blank=True, max_length=100)),
                ("population", models.PositiveIntegerField(default=0)),
                ("active", models.BooleanField(default=True)),
            ],
            options={
                "ordering": ["code"],
            },
        ),
        migrations.AlterField(
            model_name="alliance",
            name="district",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.RunPython(
            districts_from_existing_rows, alliances_without_district_as_empty_text
        ),
    ]
