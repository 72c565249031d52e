"""The baseline: a bare Flask endpoint answering 200, served by the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.post("/webhooks")
def webhooks() -> tuple[str, int]:
    return "", 200
