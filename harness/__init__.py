"""harness: a plugin-based benchmark harness for reinforcement-learning research."""

__version__ = "0.1.0"
