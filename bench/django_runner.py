"""Run by the django-helpdesk venv's interpreter (not the gateway's): a throwaway Django project on
SQLite, one queue, then django-helpdesk's own per-message ingest function on every .eml of a directory.

    python django_runner.py WORKDIR MAILDIR

Prints one JSON line: {"mails": n, "seconds": s, "tickets": t, "followups": f, "sent": m, "errors": e}.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import django
from django.conf import settings


def configure(work: Path) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",
        USE_TZ=True,
        TIME_ZONE="UTC",
        SITE_ID=1,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(work / "django.sqlite3")}},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "django.contrib.sites", "django.contrib.messages", "django.contrib.humanize",
                        "django.contrib.admin", "rest_framework", "helpdesk"],
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,  # urlpatterns below: the helpdesk namespace its mails link to
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                    "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth",
                                                       "django.contrib.messages.context_processors.messages",
                                                       "django.template.context_processors.request"]}}],
        # Acknowledgements are rendered and handed to Django's mail API, kept in memory: no SMTP.
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DEFAULT_FROM_EMAIL="support@example.com",
        MEDIA_ROOT=str(work / "media"),
        STATIC_URL="/static/",
        HELPDESK_TEAMS_MODE_ENABLED=False,
        LOGGING_CONFIG=None,
    )
    django.setup()
    from django.urls import include, path
    globals()["urlpatterns"] = [path("helpdesk/", include("helpdesk.urls"))]


def main() -> None:
    work, maildir = Path(sys.argv[1]), Path(sys.argv[2])
    configure(work)
    from django.core import mail as django_mail
    from django.core.management import call_command
    from helpdesk.email import extract_email_metadata
    from helpdesk.models import FollowUp, Queue, Ticket

    call_command("migrate", verbosity=0, interactive=False)
    queue = Queue.objects.create(title="Support", slug="support", email_address="support@example.com",
                                 allow_email_submission=True, email_box_type="imap")
    logger = logging.getLogger("bench.django")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    mails = [p.read_bytes().decode("utf-8", "replace") for p in sorted(maildir.glob("*.eml"))]
    errors = 0
    t0 = time.perf_counter()
    for raw in mails:
        try:
            extract_email_metadata(raw, queue, logger)
        except Exception as exc:  # report, go on: one mail's failure must not stop the measure
            errors += 1
            if errors <= 3:
                print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
    seconds = time.perf_counter() - t0
    print(json.dumps({"mails": len(mails), "seconds": seconds, "tickets": Ticket.objects.count(),
                      "followups": FollowUp.objects.count(), "sent": len(getattr(django_mail, "outbox", [])),
                      "errors": errors}))


if __name__ == "__main__":
    main()
