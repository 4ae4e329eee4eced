"""manage.py rotate_healthcode_keys [--compromised KID]: the beat job's rotation, by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from healthcodes import keys


class Command(BaseCommand):
    help = (
        "Rotate the QR health-code signing keys (idempotent): make sure a key is active, publish "
        "the next one a week ahead, promote it on time. --compromised KID first marks a key "
        "compromised (verifiers refuse its codes at once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--compromised", metavar="KID", help="mark this key compromised first")

    def handle(self, *args, **options):
        if options["compromised"]:
            key = keys.healthcode_key_mark_compromised(actor=None, kid=options["compromised"])
            self.stdout.write(f"marked compromised: {key.kid}")
        report = keys.healthcode_keys_rotate()
        for action, kids in report.as_dict().items():
            for kid in kids:
                self.stdout.write(f"{action}: {kid}")
        if not report.changed:
            self.stdout.write("keys up to date, nothing to do")
