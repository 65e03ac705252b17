"""neurotep's own Lava processes and their models.

Lava's compiler finds ProcessModels by importing every ``.py`` file in the folder of a Process's
module, so this package holds exactly two modules, ``processes`` and ``models``, and nothing with
import side effects.
"""
