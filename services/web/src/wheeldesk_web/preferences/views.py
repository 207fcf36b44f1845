from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

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
        return render(request, "preferences/settings.html", {"form": form}, status=400)
    return render(request, "preferences/settings.html", {"form": UserConfigForm(instance=config)})


@require_POST
def reset_defaults(request: HttpRequest) -> HttpResponse:
    UserConfig.objects.filter(user=request.user).delete()
    UserConfig.for_user(request.user)
    messages.success(request, "Settings reset to the screener's defaults.")
    return redirect("preferences:settings")
