"""Keep webhook secrets out of the logs: the secret is part of the webhook URL."""

from __future__ import annotations

import logging
import re

SECRET_IN_PATH = re.compile(r"/hooks/[^/\s\"']+")


class RedactWebhookSecrets(logging.Filter):
    """In the message, and in a traceback or stack logged with it (an error's text may hold
    the URL: Django's own did, for a POST without the slash)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/hooks/" in message:
            record.msg = SECRET_IN_PATH.sub("/hooks/***", message)
            record.args = ()
        if record.exc_info and not record.exc_text:
            # Formatted here, once, so that the handler prints this text (formatters reuse it).
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text and "/hooks/" in record.exc_text:
            record.exc_text = SECRET_IN_PATH.sub("/hooks/***", record.exc_text)
        if record.stack_info and "/hooks/" in record.stack_info:
            record.stack_info = SECRET_IN_PATH.sub("/hooks/***", record.stack_info)
        return True


_formatter = logging.Formatter()
