"""harness_sb3: built-in harness plugin (registered through the `harness` entry-point group)."""
