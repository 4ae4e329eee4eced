from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.accounts import DEMO_ACCOUNTS, demo_accounts_seed, demo_logins_join_teams


class Command(BaseCommand):
    help = "Create (or refresh) one demo login per role; password from DEMO_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="only print the demo logins")

    def handle(self, *args, list: bool = False, **options):
        if list:
            self.stdout.write(f"\nDemo logins (password: {settings.DEMO_PASSWORD}):")
            for account in DEMO_ACCOUNTS:
                self.stdout.write(f"  {account.username:<22} {account.role:<22} {account.label}")
            self.stdout.write("")
            return
        if settings.IS_PRODUCTION:
            raise CommandError(
                "Refusing to create demo logins with a known password in production."
            )
        for account, user, where in demo_accounts_seed():
            state = "ok" if user else "skipped"
            self.stdout.write(f"{state:8} {account.username:<22} {account.role:<22} {where}")
        for line in demo_logins_join_teams():
            self.stdout.write(f"team     {line}")
