"""Test doubles for users and adapter authors: no network, no GPU needed."""

from chatsim.simulators._scripted import ScriptedSimulator, default_policy
from chatsim.testing._fake_target import FakeTarget, Reply

__all__ = ["FakeTarget", "Reply", "ScriptedSimulator", "default_policy"]
