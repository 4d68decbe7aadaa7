"""Security headers on every response: CSP without inline script, no framing, nosniff, HSTS over https,
and no caching of pages that a logged-in user sees."""
from flask import Flask, current_app, g, request, session

# No 'unsafe-inline' anywhere: templates carry no inline script, event handler or style attribute
# (tests/test_security_headers.py checks every template). pickers.js fetches same-origin JSON.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)
# The site needs none of these features; deny them, also to anything embedded later.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS_MAX_AGE = 365 * 24 * 3600

STATIC_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}


def served_over_https() -> bool:
    """True when the browser reached us over https.

    Directly: request.is_secure. Behind a TLS-terminating proxy the request arrives as http; then
    PREFERRED_URL_SCHEME = "https" (the production default) says the public site is https. That is
    safe even if it is wrong for a moment: browsers ignore HSTS received over plain http (RFC 6797
    §8.1), so the header can only take effect on a connection that really was https. We do not trust
    X-Forwarded-Proto here: without ProxyFix any client can send it."""
    return request.is_secure or current_app.config.get("PREFERRED_URL_SCHEME") == "https"


def _logged_in() -> bool:
    """Without a database query: /readyz must answer even when the database is down."""
    user = g.get("_login_user")
    if user is not None:
        return bool(user.is_authenticated)
    return "_user_id" in session


def add_security_headers(response):
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    if served_over_https():
        subdomains = "; includeSubDomains" if current_app.config.get("HSTS_INCLUDE_SUBDOMAINS") else ""
        response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE}{subdomains}")
    if request.endpoint != "static" and _logged_in():
        # Personal pages must not stay in a shared computer's cache or a proxy after logout.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
