"""Configuration: defaults here, overridden by environment variables, then by the
mapping passed to ``create_app(config)`` (tests)."""
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _secret_key(instance_path: Path) -> str:
    """A stable secret for development: from SECRET_KEY, else a random key kept under
    instance/ so that sessions survive restarts. Production sets SECRET_KEY."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load(instance_path: Path) -> dict:
    return {
        "SECRET_KEY": _secret_key(instance_path),
        # None means: start (or reuse) the embedded server under instance/.
        "DATABASE_URL": os.environ.get("DATABASE_URL"),
        "REDIS_URL": os.environ.get("REDIS_URL"),
        "BASE_DOMAIN": os.environ.get("BASE_DOMAIN", "localhost"),
        # A pooled connection that visits many tenant schemas keeps their catalog
        # entries cached (~60 MiB over 1,000 schemas); recycle it after this many
        # checkouts or seconds so backend memory stays bounded.
        "DB_POOL_SIZE": _env_int("DB_POOL_SIZE", 5),
        "DB_MAX_OVERFLOW": _env_int("DB_MAX_OVERFLOW", 5),
        "DB_RECYCLE_AFTER_USES": _env_int("DB_RECYCLE_AFTER_USES", 2000),
        "DB_RECYCLE_SECONDS": _env_int("DB_RECYCLE_SECONDS", 900),
        # How long a process trusts its memory of host → tenant (suspensions and new
        # domains take at most this long to reach every web process).
        "TENANT_CACHE_SECONDS": float(os.environ.get("TENANT_CACHE_SECONDS", "5")),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": {"zh_CN": "简体中文", "en": "English"},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "LOGIN_MAX_FAILURES": _env_int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCK_SECONDS": _env_int("LOGIN_LOCK_SECONDS", 15 * 60),
        "PASSWORD_RESET_MAX_AGE": _env_int("PASSWORD_RESET_MAX_AGE", 3600),
        "INVITATION_MAX_AGE": _env_int("INVITATION_MAX_AGE", 7 * 24 * 3600),
        "RQ_QUEUES": ["default"],
        # Generated documents (filesystem storage); default instance/documents.
        "DOCUMENT_ROOT": os.environ.get("DOCUMENT_ROOT"),
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "ALLOW_TEST_EMAIL_DOMAINS": os.environ.get("ALLOW_TEST_EMAIL_DOMAINS", "1") == "1",
    }
