"""The app's URLs plus the load run's baseline: a trivial page that sends one query and
renders a template, served by the same gunicorn as the pages it is compared with."""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from perfcycle.models import Department

TRIVIAL = engines["django"].from_string(
    "<!doctype html><html><head><title>{{ name }}</title></head>"
    "<body><p>{{ name }}</p></body></html>"
)


def trivial(request):
    name = Department.objects.order_by("pk").values_list("name", flat=True).first()
    return HttpResponse(TRIVIAL.render({"name": name}))


urlpatterns = [
    path("bench/trivial/", trivial, name="bench_trivial"),
    path("", include("perfcycle.urls")),
]
