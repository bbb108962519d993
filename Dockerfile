# syntax=docker/dockerfile:1

# --- build: a virtualenv with every dependency (CPU torch from PyTorch's index) ---
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        --requirement /tmp/requirements.txt

# --- runtime: the app, run by an unprivileged user ---
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    STUDIO_VAR_DIR=/app/var \
    MEDIA_ROOT=/app/var/media
RUN groupadd --system studio && useradd --system --gid studio --home-dir /app studio
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=studio:studio . /app
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
        python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var/media \
    && chown -R studio:studio /app/var
USER studio
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["sh", "-c", "python manage.py migrate --no-input && exec gunicorn studio.wsgi --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-3} --timeout 120 --access-logfile -"]
