# syntax=docker/dockerfile:1
# One image for every Regulars process; compose.yaml and the Procfile say which command each container runs:
#   web     gunicorn -c gunicorn.conf.py 'app:create_app()'             (the default command below)
#   worker  rq worker --with-scheduler -c app.jobs.rq_settings
#   cron    rq cron -c app.jobs.rq_settings app/jobs/cron_config.py
#   migrate flask --app app db upgrade                                   (before the others start)
# Python 3.11: the version the lockfile was compiled for (scripts/lock).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    TZ=UTC \
    REGULARS_ENV=production

# The runtime lockfile alone first (exact versions, every file's hash checked), so that this layer is
# rebuilt only when the lockfile changes. No compiler needed: psycopg comes as its binary wheel.
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install --require-hashes -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The code runs from its source folder (migrations/ sits beside app/, where Flask-Migrate looks for it),
# owned by root and read-only for the user the processes run as.
WORKDIR /srv/regulars
COPY app ./app
COPY migrations ./migrations
COPY gunicorn.conf.py ./
RUN python -m compileall -q app migrations gunicorn.conf.py \
 && groupadd --system --gid 10001 regulars \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin regulars

USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
