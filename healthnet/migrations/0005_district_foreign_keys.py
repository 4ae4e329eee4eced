"""Institution, Alliance and Resident refer to District by code, in the same `district` columns
(their values unchanged: 0004_district_table made a District for each)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("healthnet", "0004_district_table"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alliance",
            name="district",
            field=models.ForeignKey(
                blank=True,
                db_column="district",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="alliances",
                to="healthnet.district",
                to_field="code",
            ),
        ),
        migrations.AlterField(
            model_name="institution",
            name="district",
            field=models.ForeignKey(
                db_column="district",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="institutions",
                to="healthnet.district",
                to_field="code",
            ),
        ),
        migrations.AlterField(
            model_name="resident",
            name="district",
            field=models.ForeignKey(
                db_column="district",
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="residents",
                to="healthnet.district",
                to_field="code",
            ),
        ),
    ]
