"""harness_ray: built-in harness plugin (registered through the `harness` entry-point group)."""
