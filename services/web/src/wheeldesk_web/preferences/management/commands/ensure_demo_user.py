from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

from wheeldesk_web.preferences.models import UserConfig

DEMO_SCAN_TIMES = "09:45,10:45,11:45,12:45,13:45,14:45,15:45"


class Command(BaseCommand):
    help = "Create (or reset) the demo login that `make run` prints."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("password")
        parser.add_argument(
            "--routine",
            action="store_true",
            help="Turn on scheduled scans and 'Email new signals' (A and B) for a new demo user.",
        )

    def handle(self, *args, username: str, password: str, routine: bool = False, **options) -> None:  # type: ignore[no-untyped-def]
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.set_password(password)
        user.is_staff = True
        user.is_superuser = True
        user.save()
        # The trader role (orders.trade) explicitly, not only through superuser.
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="orders", codename="trade")
        )
        # The demo shows the morning routine working: scans on a schedule, new signals
        # emailed (to the console outbox). Only on creation: a demo user's own choices stay.
        if routine and not UserConfig.objects.filter(user=user).exists():
            UserConfig.objects.create(
                user=user,
                scan_enabled=True,
                scan_times=DEMO_SCAN_TIMES,
                notify_email=True,
                notify_min_tier="B",
            )
