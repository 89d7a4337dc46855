"""Reads of presence state. (Placeholder: the presence platform fills this in.)"""

from __future__ import annotations


def topic_viewer_count(topic: str) -> int:
    """Concurrent connections on ``topic`` across every process."""
    return 0
