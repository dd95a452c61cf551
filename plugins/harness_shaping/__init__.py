"""harness_shaping: built-in reward shapers (registered through the ``harness`` entry-point group).

Each shaper module provides ``Params``, ``presets`` and ``wrap(env, params)``; this
module only registers names, so listing plugins imports no shaper code.
"""

from harness.api import ShaperSpec
from harness.hookspecs import hookimpl


@hookimpl
def harness_register_shapers(register):
    register(ShaperSpec("lunar_lander", "harness_shaping.lunar_lander", "seed 003's weighted LunarLander reward terms"))
    register(ShaperSpec("potential", "harness_shaping.potential", "potential-based shaping gamma*Phi(s') - Phi(s)"))
    register(ShaperSpec("scale", "harness_shaping.scale", "affine reward change factor*r + offset"))
    register(ShaperSpec("clip", "harness_shaping.clip", "clip rewards into [low, high]"))
    register(ShaperSpec("normalize", "harness_shaping.normalize", "divide by the running std of the discounted return"))
