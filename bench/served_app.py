"""The app gunicorn serves in the load test (bench/load.py serve): production settings, rate limits
off (every locust user comes from one address). Its own module, so that the workers do not import
locust — locust patches the standard library for gevent, which would slow every socket down."""
from nlwerktdoor import create_app


def create_bench_app():
    return create_app("production", RATELIMIT_ENABLED=False, SESSION_COOKIE_SECURE=False, SECRET_KEY="bench",
                      PREFERRED_URL_SCHEME="http")
