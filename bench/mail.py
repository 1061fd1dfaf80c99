"""An e-mail backend for the benchmark: it opens and closes "connections" as Django's SMTP
backend does, builds every message's MIME bytes, sends nothing and keeps nothing, and
counts connections and messages (the locmem backend can count neither)."""

from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend


class CountingBackend(BaseEmailBackend):
    connections = 0
    messages = 0

    def __init__(self, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently)
        self._opened = False

    @classmethod
    def reset(cls) -> None:
        cls.connections = cls.messages = 0

    def open(self) -> bool:
        if self._opened:
            return False
        self._opened = True
        CountingBackend.connections += 1
        return True

    def close(self) -> None:
        self._opened = False

    def send_messages(self, email_messages) -> int:
        if not email_messages:
            return 0
        # Like the SMTP backend: a connection of its own unless one is open already.
        new = self.open()
        try:
            for message in email_messages:
                message.message().as_bytes()
        finally:
            if new:
                self.close()
        CountingBackend.messages += len(email_messages)
        return len(email_messages)
