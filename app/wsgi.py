"""gunicorn entry point: `gunicorn app.wsgi:app`."""

from app.runtime import bootstrap
from app.web import create_app

app = create_app(bootstrap().config)
