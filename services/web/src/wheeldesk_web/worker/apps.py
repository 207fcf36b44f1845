from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "wheeldesk_web.worker"
    label = "worker"
