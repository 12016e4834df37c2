# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UPWARD_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY mentoring ./mentoring
COPY programs ./programs
COPY pairing ./pairing
COPY sessions_log ./sessions_log
# The dependencies, in a layer of their own (the compiled solver is optional here: no gcc yet).
RUN pip install --no-cache-dir .
COPY . .
# The pairing engine's compiled solver (setup.py) into /app/pairing, the copy Python imports;
# gcc only for this step.  The import fails the build if it was not compiled.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir --no-deps -e . \
    && python -c "import pairing._transport" \
    && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/*
RUN PRODUCTION=true SECRET_KEY=build-only-collectstatic ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
    && useradd --create-home upward && mkdir -p /app/var && chown -R upward /app/var
USER upward
EXPOSE 8000
CMD ["gunicorn", "mentoring.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
