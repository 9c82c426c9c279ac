"""What the sync and async clients share beyond requests: their settings and cheap views."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Self

from taskstate_client._config import Settings
from taskstate_client._duration import Seconds, to_seconds


class ClientViews:
    """Read-only settings and views (copies sharing the channel) of a client."""

    _settings: Settings

    @property
    def address(self) -> str:
        """The gRPC target: the address without an http:// or https:// scheme."""
        return self._settings.address

    @property
    def uses_tls(self) -> bool:
        """What the TLS rule chose for this client."""
        return self._settings.credentials is not None

    def with_timeout(self, timeout: Seconds | None) -> Self:
        """A view of this client with another default deadline (None: no deadline).

        It shares the channel, so it is cheap to make per call
        (`client.with_timeout(2).get(task_id)`); closing either closes both.
        """
        view = copy.copy(self)
        view._settings = replace(
            self._settings, timeout=None if timeout is None else to_seconds(timeout)
        )
        return view

    @property
    def subject(self) -> str | None:
        """The end user this client acts for (the `taskstate-subject` metadata), or None."""
        return self._settings.subject

    def with_subject(self, subject: str | None) -> Self:
        """A view of this client acting for end user `subject` (None: for no subject).

        Under a subject, create() records it on the task and every other call sees
        only that subject's tasks (another subject's task is NOT_FOUND, lists and
        watches are filtered), so a service holding one token can serve many users
        without one seeing another's tasks. Without one, a call sees all of the
        owner's tasks (workers, operators). The view shares the channel, so one per
        request is cheap (`client.with_subject(user).get(task_id)`); closing either
        closes both.
        """
        view = copy.copy(self)
        view._settings = self._settings.scoped(subject)
        return view
