"""`python manage.py load_network data/wuhai.yaml`: load or update the health network from a data
file (YAML or JSON, format in docs/network-data.md). The work is in healthnet/network_file/
(read, validate) and healthnet/network_loader.py (apply)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from healthnet.network_loader import NetworkFileInvalid, network_load


class Command(BaseCommand):
    help = (
        "载入/更新医疗卫生网络 (load or update the health network from a YAML or JSON data file; "
        "the whole file is validated first and an invalid file writes nothing)"
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the network data file, e.g. data/wuhai.yaml")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="validate and report what would change, then roll back",
        )

    def handle(self, *args, path: str, dry_run: bool, **options):
        try:
            report = network_load(path=path, actor=None, dry_run=dry_run)
        except NetworkFileInvalid as exc:
            raise CommandError(exc.message) from None
        except IntegrityError as exc:  # the file is valid but contradicts rows it does not list
            raise CommandError(
                f"数据库拒绝了此次载入，未写入任何数据 (the database refused the load, nothing was "
                f"written): {exc}"
            ) from None
        for line in report.summary_lines():
            self.stdout.write(line)
