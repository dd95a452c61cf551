"""harness_shaping: built-in harness plugin (registered through the `harness` entry-point group)."""
