"""The public search's speed-ups: short-lived caches (nlwerktdoor/caching.py), shared through Redis
and harmless when it fails, and the postcode index behind the radius search."""
import pytest
import redis

from nlwerktdoor.caching import remembered
from nlwerktdoor.extensions import cache


@pytest.fixture
def cache_backend(app):
    """Point the app's cache at another backend for one test, then back at the configured one."""

    def use(clear=True, **config):
        cache.init_app(app, config={"CACHE_KEY_PREFIX": "nlwerktdoor-test:", **config})
        if clear:
            cache.clear()

    yield use
    cache.init_app(app)


def test_remembered_computes_once_per_interval(app, cache_backend):
    cache_backend(CACHE_TYPE="SimpleCache")
    calls = []
    with app.app_context():
        for _ in range(3):
            assert remembered("k", 60, lambda: calls.append(1) or len(calls)) == 1
        assert remembered("k", 0, lambda: calls.append(1) or len(calls)) == 2  # 0 seconds: always computed
    assert len(calls) == 2


def test_redis_cache_is_shared_between_processes_of_the_site(app, cache_backend):
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/1").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    cache_backend(CACHE_TYPE="RedisCache", CACHE_REDIS_URL="redis://127.0.0.1:6379/1")
    with app.app_context():
        assert remembered("shared", 60, lambda: {"1011": 3}) == {"1011": 3}
    # Another web process reads it from Redis, without computing.
    stored = redis.Redis.from_url("redis://127.0.0.1:6379/1").keys("nlwerktdoor-test:shared")
    assert stored
    with app.app_context():
        assert remembered("shared", 60, lambda: pytest.fail("computed again")) == {"1011": 3}
        cache.clear()


def test_a_broken_cache_only_costs_time(app, client, cache_backend, caplog):
    cache_backend(clear=False, CACHE_TYPE="RedisCache", CACHE_REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
    app.config.update(PUBLIC_COUNTS_SECONDS=30, PUBLIC_PAGE_SECONDS=10)
    try:
        response = client.get("/tekorten/?postcode=3511&radius=25")
        assert response.status_code == 200
        assert "vacature(s) binnen 25 km" in response.get_data(as_text=True)
        assert "cache: could not read" in caplog.text
    finally:
        app.config.update(PUBLIC_COUNTS_SECONDS=0, PUBLIC_PAGE_SECONDS=0)


@pytest.mark.parametrize("pc4, radius", [("1011", 5), ("3511", 25), ("9711", 50), ("6211", 100), ("1791", 30)])
def test_places_within_agrees_with_looking_at_every_place(pc4, radius):
    """The latitude-band index behind the public search finds exactly what a scan of all ~4,000 finds."""
    from nlwerktdoor import reference

    origin = reference.place(pc4)
    expected = {
        other.pc4: reference.distance_km(origin.lat, origin.lon, other.lat, other.lon)
        for other in reference.places().values()
        if reference.distance_km(origin.lat, origin.lon, other.lat, other.lon) <= radius
    }
    assert reference.places_within(pc4, radius) == pytest.approx(expected)
    assert len(expected) > 1
