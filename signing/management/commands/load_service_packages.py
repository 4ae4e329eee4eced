from django.core.management.base import BaseCommand

from signing.catalogue import DEFAULT_CATALOGUE, service_packages_load


class Command(BaseCommand):
    help = "Load the family-doctor service package catalogue (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(DEFAULT_CATALOGUE))

    def handle(self, *args, path, **options):
        counts = service_packages_load(path)
        self.stdout.write(f"service packages: {counts['packages']}, items: {counts['items']}")
