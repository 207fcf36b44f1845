from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset) the demo login that `make run` prints."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("password")

    def handle(self, *args, username: str, password: str, **options) -> None:  # type: ignore[no-untyped-def]
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
