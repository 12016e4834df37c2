"""Settings in both modes, checked in a fresh interpreter with a controlled environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "email_backend": settings.EMAIL_BACKEND,
    "delivery": settings.OUTBOX_DELIVERY_BACKEND,
    "debug": settings.DEBUG,
    "secret": settings.SECRET_KEY,
    "hosts": settings.ALLOWED_HOSTS,
}))
"""
STRIP = ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "SECRET_KEY", "DEBUG", "PRODUCTION", "ALLOWED_HOSTS", "CACHE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")


def run_python(code: str, tmp_path, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in STRIP}
    env.update({"DJANGO_SETTINGS_MODULE": "mentoring.settings", "UPWARD_VAR_DIR": str(tmp_path / "var")})
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def probe(tmp_path, **env) -> dict:
    result = run_python(PROBE, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_set_gives_the_embedded_default(tmp_path):
    s = probe(tmp_path)
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["broker"] == "filesystem://"  # a worker and beat run without Redis
    assert s["cache"] == "django.core.cache.backends.db.DatabaseCache"  # shared across processes
    assert s["email_backend"] == "mentoring.mail.OutboxEmailBackend"
    assert s["delivery"] == "django.core.mail.backends.console.EmailBackend"
    assert s["debug"] is True
    assert (tmp_path / "var" / "celery-broker" / "queue").is_dir()


def test_urls_switch_to_postgresql_redis_and_smtp(tmp_path):
    s = probe(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/upward",
        REDIS_URL="redis://127.0.0.1:6379/0",
        EMAIL_URL="smtp://mailer:secret@mail.example:587",
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["broker"] == "redis://127.0.0.1:6379/0"
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert s["delivery"] == "django.core.mail.backends.smtp.EmailBackend"


def test_secrets_can_come_from_files(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-container-secret-" + "x" * 40 + "\n")
    s = probe(tmp_path, SECRET_KEY_FILE=str(secret_file))
    assert s["secret"] == "from-a-container-secret-" + "x" * 40


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_python(PROBE, tmp_path, PRODUCTION="true", ALLOWED_HOSTS="upward.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_switch_passes_check_deploy_without_warnings(tmp_path):
    code = "import sys; from django.core.management import execute_from_command_line; execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    result = run_python(
        code,
        tmp_path,
        PRODUCTION="true",
        SECRET_KEY="k" * 20 + "-production-only-Z9x!q7" + "p" * 30,
        ALLOWED_HOSTS="upward.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_mode_fails_check_deploy(tmp_path):
    """The check really looks: the development defaults are not deployable."""
    code = "from django.core.management import execute_from_command_line; execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    result = run_python(code, tmp_path)
    assert result.returncode != 0


@pytest.mark.parametrize("variable", ["DATABASE_URL", "REDIS_URL", "EMAIL_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "PRODUCTION"])
def test_every_variable_is_documented_in_the_readme(variable):
    assert f"`{variable}`" in (ROOT / "README.md").read_text()
