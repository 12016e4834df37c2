# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UPWARD_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mentoring ./mentoring
COPY programs ./programs
COPY pairing ./pairing
COPY sessions_log ./sessions_log
RUN pip install --no-cache-dir .
COPY . .
RUN PRODUCTION=true SECRET_KEY=build-only-collectstatic ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
    && useradd --create-home upward && mkdir -p /app/var && chown -R upward /app/var
USER upward
EXPOSE 8000
CMD ["gunicorn", "mentoring.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
