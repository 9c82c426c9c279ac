"""--feed-retention (TASKSTATE_FEED_RETENTION): how long WatchTasks cursors stay resumable."""

from __future__ import annotations

import pytest
from taskstate_server.app import describe_limits
from taskstate_server.config import ConfigError, parse_config


def test_default_is_one_hour_and_on_the_limits_line():
    limits = parse_config([], {}).limits
    assert limits.feed_retention_ms == 3_600_000
    assert "feed-retention 1h" in describe_limits(limits)


@pytest.mark.parametrize(("text", "ms"), [("1s", 1000), ("90m", 5_400_000), ("7d", 604_800_000)])
def test_flag_and_environment(text, ms):
    assert parse_config(["--feed-retention", text], {}).limits.feed_retention_ms == ms
    env = {"TASKSTATE_FEED_RETENTION": text}
    assert parse_config([], env).limits.feed_retention_ms == ms


@pytest.mark.parametrize("text", ["0s", "999ms", "7d1ms", "8d"])
def test_outside_one_second_to_seven_days_is_refused(text):
    with pytest.raises(ConfigError, match="--feed-retention"):
        parse_config(["--feed-retention", text], {})
