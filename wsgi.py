"""WSGI entry point: `gunicorn wsgi:app`. Never starts the scheduler (that is `nlwerktdoor scheduler run`)."""
from nlwerktdoor import create_app

app = create_app()
