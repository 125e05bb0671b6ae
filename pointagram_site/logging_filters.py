"""Keep webhook secrets out of the logs: the secret is part of the webhook URL."""

from __future__ import annotations

import logging
import re

SECRET_IN_PATH = re.compile(r"/hooks/[^/\s\"']+")


class RedactWebhookSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/hooks/" in message:
            record.msg = SECRET_IN_PATH.sub("/hooks/***", message)
            record.args = ()
        return True
