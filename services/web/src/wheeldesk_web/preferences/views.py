from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from wheeldesk_web.core.schedule import schedule_summary
from wheeldesk_web.preferences.forms import UserConfigForm
from wheeldesk_web.preferences.models import UserConfig


def settings_page(request: HttpRequest) -> HttpResponse:
    config = UserConfig.for_user(request.user)
    if request.method == "POST":
        form = UserConfigForm(request.POST, instance=config)
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved. The next scan uses them.")
            return redirect("preferences:settings")
        messages.error(request, "Settings not saved: fix the fields marked below.")
        return render(
            request,
            "preferences/settings.html",
            # the errors at the page's own address: a reload GETs it, no re-post (base.html)
            {"form": form, "schedule": schedule_summary(config), "page_url": request.path},
            status=400,
        )
    return render(
        request,
        "preferences/settings.html",
        {"form": UserConfigForm(instance=config), "schedule": schedule_summary(config)},
    )


@require_POST
def reset_defaults(request: HttpRequest) -> HttpResponse:
    # The criteria go back to the screener's defaults; where mail goes is not a criterion.
    address = UserConfig.for_user(request.user).notify_address
    UserConfig.objects.filter(user=request.user).delete()
    UserConfig.objects.filter(pk=UserConfig.for_user(request.user).pk).update(
        notify_address=address
    )
    messages.success(request, "Settings reset to the screener's defaults (email address kept).")
    return redirect("preferences:settings")
