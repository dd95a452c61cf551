"""harness_tabular: built-in harness plugin (registered through the `harness` entry-point group)."""
