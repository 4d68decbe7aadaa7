"""nlwerktdoor: a crisis-time job exchange between shrinking and growing sectors."""
import os

from flask import Flask


def create_app(config_name: str | None = None, **overrides) -> Flask:
    """Assemble the application: config, extensions, blueprints, commands. No database work."""
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = _request_class()
    _load_config(app, config_name, overrides)
    _register_logging(app)
    _register_extensions(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    _register_errorhandlers(app)
    _register_commands(app)
    return app


def _request_class():
    """Form and query values without NUL characters (nlwerktdoor/request_input.py)."""
    from .request_input import CleanRequest

    return CleanRequest


def _load_config(app: Flask, config_name: str | None, overrides: dict) -> None:
    from config import configs

    name = config_name or os.environ.get("NLWERKTDOOR_CONFIG") or (
        "production" if os.environ.get("FLASK_ENV") == "production" else "development"
    )
    app.config.from_object(configs[name])
    app.config.update(overrides)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "nlwerktdoor.sqlite")
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set in production (environment variable SECRET_KEY).")


def _register_logging(app: Flask) -> None:
    from .logging_setup import init_app

    init_app(app)


def _register_extensions(app: Flask) -> None:
    from . import i18n, models, security  # noqa: F401  (models register their tables on db.metadata)
    from .extensions import cache, csrf, db, limiter, login_manager, migrate
    from .models.database import configure_engine, set_engine_options

    set_engine_options(app)
    db.init_app(app)
    configure_engine(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
    csrf.init_app(app)
    cache.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str):
        # "<id>:<session token>" (User.get_id); a rotated token (logout, new password) is refused.
        from .services.accounts import user_for_session

        return user_for_session(user_id)


def _register_blueprints(app: Flask) -> None:
    from .accounts import bp as accounts_bp
    from .admin import bp as admin_bp
    from .growing import bp as growing_bp
    from .health import bp as health_bp
    from .matches import bp as matches_bp
    from .public import bp as public_bp
    from .shrinking import bp as shrinking_bp
    from .workers import bp as workers_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(accounts_bp, url_prefix="/account")
    app.register_blueprint(shrinking_bp, url_prefix="/aanbod")
    app.register_blueprint(growing_bp, url_prefix="/tekorten")
    app.register_blueprint(workers_bp, url_prefix="/werkenden")
    app.register_blueprint(admin_bp, url_prefix="/beheer")
    app.register_blueprint(matches_bp, url_prefix="/matches")


def _register_template_helpers(app: Flask) -> None:
    from .templating import init_app

    init_app(app)


def _register_errorhandlers(app: Flask) -> None:
    from .errors import init_app

    init_app(app)


def _register_commands(app: Flask) -> None:
    from .cli import init_app

    init_app(app)
